"""Named conventions of the paired metrics: ``--metric-arg psnr.convention=synthrad2023``.

``medganbench`` (the default) is each metric's own convention, stated in its class's
``convention``; ``synthrad2023`` and ``synthrad2025`` compute the number as the SynthRAD
challenges' evaluation code does (:mod:`medganbench_plugins.metrics.synthrad`), with the
challenge's fixed HU range whatever the dataset's window. The argument is declared
``omit_default``: a run at the default convention has the run id it had before conventions
existed, and any other convention enters the run id and the row's ``metric_args``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch

from medganbench.core.dataset import DomainInfo
from medganbench.core.metric import MetricContext, PairedMetric
from medganbench.core.params import Param
from medganbench_plugins.metrics.synthrad import (
    HU_RANGES,
    challenge_mae,
    challenge_ms_ssim,
    challenge_psnr,
    challenge_ssim,
)

__all__ = ["DEFAULT", "ConventionMetric", "convention_param"]

DEFAULT = "medganbench"
Scorer = Callable[..., torch.Tensor]


def convention_param(choices: tuple[str, ...]) -> Param:
    """The ``convention`` argument of a paired metric (left out of the run id at its default)."""
    return Param(
        "convention",
        DEFAULT,
        "how the number is computed: medganbench (this benchmark's), or a challenge's own "
        "(fixed HU range; CT targets only); see docs/metrics.md",
        choices=(DEFAULT, *choices),
        omit_default=True,
    )


def _mae(pred: torch.Tensor, target: torch.Tensor, *, window: Any, mask: Any = None) -> Any:
    return challenge_mae(pred, target, mask)


def _psnr(year: str) -> Scorer:
    def score(pred: torch.Tensor, target: torch.Tensor, *, window: Any, mask: Any = None) -> Any:
        return challenge_psnr(pred, target, mask, hu_range=HU_RANGES[year])

    return score


def _ssim(pred: torch.Tensor, target: torch.Tensor, *, window: Any, mask: Any = None) -> Any:
    return challenge_ssim(pred, target, mask)


def _ms_ssim(pred: torch.Tensor, target: torch.Tensor, *, window: Any, mask: Any = None) -> Any:
    return challenge_ms_ssim(pred, target, mask, hu_range=HU_RANGES["synthrad2025"])


_R23, _R25 = "[-1024, 3000] HU", "[-1024, 3071] HU"
#: metric kind → convention → (scorer, one-line convention written on the row).
CHALLENGE: dict[str, dict[str, tuple[Scorer, str]]] = {
    "psnr": {
        "synthrad2023": (
            _psnr("synthrad2023"),
            f"SynthRAD 2023 PSNR: both clipped to {_R23}, peak 4024, MSE over the body mask",
        ),
        "synthrad2025": (
            _psnr("synthrad2025"),
            f"SynthRAD 2025 PSNR: both clipped to {_R25}, peak 4095, MSE over the body mask",
        ),
    },
    "mae": {
        year: (
            _mae,
            f"SynthRAD {year[-4:]} MAE: mean |pred-target| in HU over the body mask, unclipped",
        )
        for year in ("synthrad2023", "synthrad2025")
    },
    "ssim": {
        "synthrad2023": (
            _ssim,
            f"SynthRAD 2023 SSIM: clipped to {_R23}, -1024 outside the mask, shifted by +1024, "
            "scikit-image default (7-wide uniform window, sample covariance, data range 4024), "
            "map mean over mask voxels 3 from the border",
        ),
        "synthrad2025": (
            _ms_ssim,
            "SynthRAD 2025 structural score = its masked MS-SSIM (see ms-ssim synthrad2025)",
        ),
    },
    "ms-ssim": {
        "synthrad2025": (
            _ms_ssim,
            f"SynthRAD 2025 masked MS-SSIM: clipped to {_R25}, -1024 outside the mask, edge-padded "
            "to 97, 7-wide uniform window, L^w*C^w*S^w per level, mask subsampled by 2, product "
            "of the 5 clipped level means",
        ),
    },
}


class ConventionMetric(PairedMetric):
    """A paired metric with a ``convention`` argument.

    The class's ``score`` and ``convention`` are the medganbench convention; an instance built
    with another convention replaces both with the challenge's.

    Class attributes:
        kind: the key of the metric in :data:`CHALLENGE`.
    """

    kind: ClassVar[str] = ""

    def __init__(
        self, args: Mapping[str, Any] | None = None, ctx: MetricContext | None = None
    ) -> None:
        super().__init__(args, ctx)
        self.convention_name = str(self.args.get("convention", DEFAULT))
        if self.convention_name != DEFAULT:
            scorer, text = CHALLENGE[self.kind][self.convention_name]
            self.score = scorer  # type: ignore[method-assign]
            self.convention = text  # type: ignore[misc]

    def score_volume(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        *,
        window: tuple[float, float],
        mask: torch.Tensor,
    ) -> float:
        """One patient's value (see :class:`medganbench.core.volumes.VolumeScoring`).

        A challenge's convention scores the (C, D, H, W) volume in 3-D, as the challenge does.
        The medganbench convention pools the patient's slices: :meth:`pool_slices`.
        """
        if self.convention_name != DEFAULT:
            return float(self.score(pred[None], target[None], window=window, mask=mask[None]))
        return self.pool_slices(pred.transpose(0, 1), target.transpose(0, 1), window, mask)

    def pool_slices(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        window: tuple[float, float],
        mask: torch.Tensor,
    ) -> float:
        """The medganbench convention for one patient, from its (D, C, H, W) slices.

        Default: every masked pixel of every slice counts once, as if the slices were one image
        (PSNR from the patient's pooled MSE, MAE over all its body voxels).
        """
        d, c, h, w = pred.shape
        flat = (1, c, d * h, w)
        as_image = mask.transpose(0, 1).reshape(1, 1, d * h, w)
        stacked = pred.transpose(0, 1).reshape(flat), target.transpose(0, 1).reshape(flat)
        return float(self.score(*stacked, window=window, mask=as_image))

    def applies_to(self, target: DomainInfo) -> bool:
        """A challenge's convention fixes an HU range: it applies to CT targets in HU only."""
        return self.convention_name == DEFAULT or target.units == "HU"
