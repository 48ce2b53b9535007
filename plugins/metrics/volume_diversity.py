"""``ms-ssim-diversity``: how alike the generated volumes are to one another (HA-GAN, Sun et al.
2022; Kwon et al. 2019; the brain-LDM papers): the mean 3-D MS-SSIM over pairs of distinct
generated volumes. Lower means more diverse; the same over the real volumes is the reference.

The MS-SSIM is MONAI's (``monai.metrics.MultiScaleSSIMMetric(spatial_dims=3, data_range=1,
kernel_size=4)``, as the MONAI generative tutorials and Pinaya et al.'s brain LDM compute it),
written out here in float64 (:func:`ms_ssim_3d`) and checked against MONAI to 1e-5 in
tests/plugins/metrics/test_volume_diversity.py: a Gaussian window of ``kernel_size`` taps
(σ = 1.5, tap offsets ``i − (k − 1)/2``, normalised), 'valid' positions only, population
statistics, K1 = 0.01, K2 = 0.03; the contrast-structure means of every scale but the last and
the SSIM mean of the last, each clipped at 0, raised to their weights and multiplied;
2 x 2 x 2 average pooling between scales (odd sizes floored).

Readings:

* **Not the project's ``ms-ssim``.** That one edge-pads every side below 161 voxels to 161 (the
  SynthRAD convention for an 11-tap window at five scales). At 32³ the padded cube is 99 % copies
  of the border, so the value would measure borders, and one pair costs a second on one CPU
  thread (measured); MONAI's small window needs no padding.
* **Scales.** MONAI refuses a volume too small for its five scales (at ``kernel_size`` 4: sides
  under 64). Here a volume gets the most scales, up to five, that MONAI's size check admits —
  ``s // max(1, n − 1)² ≥ kernel_size`` — and whose coarsest scale still fits the window —
  ``s // 2^(n − 1) ≥ kernel_size`` — for its smallest side ``s`` (at ``kernel_size`` 4: 3 scales
  for 16³ to 35³, 4 for 36³ to 63³, 5 from 64³); the weights are the first n of MONAI's
  (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) divided by their sum, so that the value stays a
  weighted geometric mean. The scales and weights used are in the details.
* **Values.** Volumes are clipped to the target window and rescaled to [0, 1] (``data_range``
  1), as for every windowed metric here. They must be of one size (MS-SSIM compares voxel with
  voxel); a dataset that evaluates each patient's whole volume is refused when it is built.
* **Pairs.** Unordered pairs of distinct volumes: all of them when there are at most
  ``n_pairs``, else ``n_pairs`` of them drawn without replacement (``torch.randperm`` of the
  pair list, generator seeded with 2020, the distribution metrics' seed). The real set's value
  uses the same rule on the real volumes.
* **Ranking direction.** Lower is ranked better: the failure this measures is mode collapse
  (outputs alike), which can only raise it. A model cannot lower it by being realistic; too-low
  values (noise) are what the fidelity metrics (``fd-planes``, ``frd-3d``, ``mmd``) catch. Read
  it next to the real set's value (``real_ms_ssim``): a value near that is the aim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.core.params import Param
from medganbench.core.specs import MetricSpec
from medganbench.errors import DataError, RunError
from medganbench_plugins.metrics.feature_set import SEED
from medganbench_plugins.metrics.filters import valid_filter
from medganbench_plugins.metrics.volume_inputs import check_volumes, one_size, unit_volumes

__all__ = [
    "MONAI_WEIGHTS",
    "MSSSIMDiversity",
    "medganbench_metrics",
    "ms_ssim_3d",
    "pairs",
    "scale_weights",
]

#: MONAI's (and Wang et al. 2003's) five scale weights.
MONAI_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SIGMA = 1.5
K1, K2 = 0.01, 0.03
DEFAULT_KERNEL = 4
DEFAULT_PAIRS = 100
#: Pairs scored in one call (bounds the memory of the filtered volumes).
CHUNK = 8


def scale_weights(shape: tuple[int, ...], kernel_size: int) -> tuple[float, ...]:
    """The weights of the scales a volume of ``shape`` (its spatial sizes) gets (see the module
    docstring): the first n of :data:`MONAI_WEIGHTS`, summing to 1.

    Raises:
        DataError: a side shorter than the window (not even one scale).
    """
    side = min(shape)
    for n in range(len(MONAI_WEIGHTS), 0, -1):
        if side // max(1, n - 1) ** 2 >= kernel_size and side // 2 ** (n - 1) >= kernel_size:
            chosen = MONAI_WEIGHTS[:n]
            return tuple(w / math.fsum(chosen) for w in chosen)
    raise DataError(
        f"ms-ssim-diversity: volumes of {tuple(shape)} voxels are smaller than the "
        f"{kernel_size}-voxel window."
    )


def _window(kernel_size: int) -> tuple[float, ...]:
    offsets = [i - (kernel_size - 1) / 2 for i in range(kernel_size)]
    taps = [math.exp(-((o / SIGMA) ** 2) / 2) for o in offsets]
    total = math.fsum(taps)
    return tuple(t / total for t in taps)


def ms_ssim_3d(
    x: torch.Tensor, y: torch.Tensor, kernel_size: int, weights: tuple[float, ...]
) -> torch.Tensor:
    """MS-SSIM of each pair of ``(N, C, D, H, W)`` volumes in [0, 1], MONAI's computation (see
    the module docstring) with ``len(weights)`` scales, in float64.

    Returns:
        float64 (N,).
    """
    kernel = _window(kernel_size)
    x, y = x.to(torch.float64), y.to(torch.float64)
    factors = []
    for level in range(len(weights)):
        ux, uy, uxx, uyy, uxy = (valid_filter(v, kernel, 3) for v in (x, y, x * x, y * y, x * y))
        vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
        cs = (2 * vxy + K2**2) / (vx + vy + K2**2)
        if level < len(weights) - 1:
            factors.append(cs.flatten(1).mean(-1).clamp(min=0))
            x, y = F.avg_pool3d(x, kernel_size=2), F.avg_pool3d(y, kernel_size=2)
        else:
            ssim = (2 * ux * uy + K1**2) / (ux * ux + uy * uy + K1**2) * cs
            factors.append(ssim.flatten(1).mean(-1).clamp(min=0))
    powers = torch.tensor(weights, dtype=torch.float64, device=x.device).unsqueeze(1)
    return (torch.stack(factors) ** powers).prod(dim=0)


def pairs(n: int, n_pairs: int) -> torch.Tensor:
    """``(2, k)`` indices of unordered pairs of distinct items of ``n``: all of them when there
    are at most ``n_pairs``, else ``n_pairs`` drawn without replacement (seeded)."""
    every = torch.triu_indices(n, n, offset=1)
    if every.shape[1] <= n_pairs:
        return every
    order = torch.randperm(every.shape[1], generator=torch.Generator().manual_seed(SEED))
    return every[:, order[:n_pairs]]


def _convention(kernel_size: int, n_pairs: int) -> str:
    return (
        f"mean over min({n_pairs}, all) distinct pairs of generated volumes (seeded draw without "
        "replacement) of 3-D MS-SSIM as monai.metrics.MultiScaleSSIMMetric(spatial_dims=3, "
        f"data_range=1, kernel_size={kernel_size}, kernel_sigma=1.5) computes it, volumes "
        "clipped to the target window and rescaled to [0,1]; up to 5 scales, as many as "
        "MONAI admits for the volume size, MONAI's weights renormalised over them; float64; "
        "lower = more diverse; the real volumes' value (same rule) in metric_details; no "
        "noise floor"
    )


class MSSSIMDiversity(Metric):
    """Mean MS-SSIM between pairs of distinct generated volumes (lower is ranked better)."""

    needs = Needs.DISTRIBUTION
    higher_is_better = False
    spatial_dims = (3,)
    convention = _convention(DEFAULT_KERNEL, DEFAULT_PAIRS)

    def __init__(
        self, args: Mapping[str, Any] | None = None, ctx: MetricContext | None = None
    ) -> None:
        super().__init__(args, ctx)
        one_size(self.ctx, "ms-ssim-diversity")
        self.kernel_size = int(self.args.get("kernel_size", DEFAULT_KERNEL))
        self.n_pairs = int(self.args.get("n_pairs", DEFAULT_PAIRS))
        self.convention = _convention(self.kernel_size, self.n_pairs)  # type: ignore[misc]

    def reset(self) -> None:
        self._shape: tuple[int, ...] | None = None
        self._generated: list[torch.Tensor] = []
        self._real: list[torch.Tensor] = []
        self._details: dict[str, Any] = {}

    def update(self, batch: EvalBatch) -> None:
        self._shape = check_volumes(batch, "ms-ssim-diversity", self._shape)
        self._window = batch.window
        # float32 in [0, 1] (half the memory; scored in float64).
        self._generated.append(unit_volumes(batch.pred, batch.window).float().cpu())
        self._real.append(unit_volumes(batch.target, batch.window).float().cpu())

    def _mean_over_pairs(self, volumes: torch.Tensor) -> tuple[float, float, int]:
        """Mean and standard deviation of the MS-SSIM over the pairs, and their count."""
        chosen = pairs(volumes.shape[0], self.n_pairs)
        weights = scale_weights(tuple(volumes.shape[2:]), self.kernel_size)
        values = torch.cat(
            [
                ms_ssim_3d(volumes[a], volumes[b], self.kernel_size, weights)
                for a, b in (chosen[:, i : i + CHUNK] for i in range(0, chosen.shape[1], CHUNK))
            ]
        )
        std = float(values.std()) if len(values) > 1 else 0.0
        return float(values.mean()), std, int(values.shape[0])

    def compute(self) -> float:
        if not self._generated:
            raise RunError("ms-ssim-diversity: no volumes were evaluated.")
        generated = torch.cat(self._generated)
        if generated.shape[0] < 2:
            raise RunError(
                f"ms-ssim-diversity needs at least 2 generated volumes, got {generated.shape[0]}."
            )
        value, spread, count = self._mean_over_pairs(generated)
        real = torch.cat(self._real)
        reference: dict[str, Any] = {"real_ms_ssim": None, "real_pairs": 0}
        if real.shape[0] >= 2:
            mean, std, n = self._mean_over_pairs(real)
            reference = {"real_ms_ssim": mean, "real_ms_ssim_std": std, "real_pairs": n}
        weights = scale_weights(tuple(generated.shape[2:]), self.kernel_size)
        self._details = {
            "pairs": count,
            "ms_ssim_std": spread,
            **reference,
            "n_generated": int(generated.shape[0]),
            "n_real": int(real.shape[0]),
            "real_split": self.ctx.split,
            "kernel_size": self.kernel_size,
            "scales": len(weights),
            "weights": list(weights),
            "pair_seed": SEED,
            "values": "clip to the window, rescale to [0,1]",
            "window": list(self._window),
        }
        return value

    def report(self) -> MetricReport:
        return MetricReport(details=self._details)


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``ms-ssim-diversity``."""
    return [
        MetricSpec(
            name="ms-ssim-diversity",
            summary="Mean 3-D MS-SSIM (MONAI's) between pairs of generated volumes; lower is "
            "more diverse, the real set's value alongside (3-D).",
            version="1",
            factory="medganbench_plugins.metrics.volume_diversity:MSSSIMDiversity",
            params=(
                Param(
                    "n_pairs",
                    DEFAULT_PAIRS,
                    "how many distinct pairs of volumes to average over (all when fewer)",
                    minimum=1,
                ),
                Param(
                    "kernel_size",
                    DEFAULT_KERNEL,
                    "side of MONAI's Gaussian window, in voxels (4: Pinaya et al.'s brain LDM)",
                    minimum=2,
                    maximum=11,
                ),
            ),
        )
    ]
