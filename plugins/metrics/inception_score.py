"""The Inception Score (Salimans et al., NeurIPS 2016), through torch-fidelity: the ``is`` metric.

IS = exp(E_x KL(p(y | x) ‖ p(y))) over the 1008 classes of the 2015 TensorFlow Inception graph
(torch-fidelity's ``isc``: logits without the classifier's bias, softmax, the generated set
shuffled with seed 2020 and cut into ``splits`` parts; the value is the mean over the parts and
the standard deviation is recorded). Images are quantised to uint8 through the domain's window
and grey is repeated to RGB, as for FID (:mod:`.inception`).

Why it is weak here, and is offered for comparison with papers only (it is not in any default
metric set): IS asks how confidently an ImageNet classifier puts each image into one of its
classes, and how evenly the images spread over the classes. A grey-scale CT or MR slice is no
ImageNet object, so p(y | x) is spread over a few look-alike classes whatever the image's
quality; the score then mostly measures which classes slices happen to resemble. It never looks
at the real images, so it cannot tell whether the generated slices resemble the data set (a
model producing sharp non-anatomical textures can score higher than the real slices), and with
the few hundred images of a medical test split the 10 splits are small and the value is biased.
Each row therefore also records the IS of the real images of the same split (``real_is``), the
value a perfect model would get.
"""

from __future__ import annotations

from typing import Any

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, Metric, MetricReport, Needs
from medganbench.core.params import Param
from medganbench.core.specs import MetricSpec, WeightsSpec
from medganbench.errors import RunError
from medganbench.weights.store import ResolvedWeights, resolve_weights
from medganbench_plugins.metrics.inception import (
    EXTRACTOR,
    IS_INCEPTION,
    LOGITS,
    QUANTISATION,
    quantise,
)

#: torch-fidelity's defaults for the Inception Score.
SPLITS = 10
SEED = 2020


def inception_score(logits: torch.Tensor, splits: int = SPLITS) -> tuple[float, float]:
    """IS mean and standard deviation over ``splits`` parts of (N, classes) logits.

    Raises:
        RunError: fewer images than splits (a part would be empty), or non-finite logits.
    """
    if logits.shape[0] < splits:
        raise RunError(
            f"The Inception Score needs at least {splits} images (one per split), got {logits.shape[0]}."
        )
    if not torch.isfinite(logits).all():
        raise RunError(
            "The Inception classifier gave non-finite logits: the weights have no usable classifier."
        )
    from torch_fidelity.metric_isc import (
        KEY_METRIC_ISC_MEAN,
        KEY_METRIC_ISC_STD,
        isc_features_to_metric,
    )

    out = isc_features_to_metric(logits.double(), splits=splits, shuffle=True, rng_seed=SEED)
    return float(out[KEY_METRIC_ISC_MEAN]), float(out[KEY_METRIC_ISC_STD])


class InceptionScore(Metric):
    """Inception Score of the generated images (higher is better; see the module docstring)."""

    needs = Needs.DISTRIBUTION
    higher_is_better = True
    convention = (
        "Inception Score (torch-fidelity isc) on inception-v3-compat logits_unbiased (1008 "
        "classes), images quantised to uint8 through the target window, gray repeated to RGB; "
        "generated set shuffled (seed 2020), mean over splits; real_is = the same on the real split"
    )

    def reset(self) -> None:
        self._generated: list[torch.Tensor] = []
        self._real: list[torch.Tensor] = []
        self._details: dict[str, Any] = {}
        self._window: tuple[float, float] | None = None

    def weights_needed(self) -> tuple[WeightsSpec, ...]:
        return (IS_INCEPTION,)

    def _weights(self) -> ResolvedWeights:
        if not hasattr(self, "_resolved"):
            self._resolved = resolve_weights(
                IS_INCEPTION, unverified_ok=self.ctx.allow_unverified_weights
            )
        return self._resolved

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        from medganbench_plugins.metrics.inception_net import shared_extractor

        return shared_extractor(self._weights(), self.ctx.device, LOGITS)(images)

    def update(self, batch: EvalBatch) -> None:
        self._window = batch.window
        self._generated.append(self._logits(quantise(batch.pred, batch.window)))
        self._real.append(self._logits(quantise(batch.target, batch.window)))

    def compute(self) -> float:
        if not self._generated:
            raise RunError("InceptionScore: no images were evaluated.")
        splits = int(self.args.get("splits", SPLITS))
        generated = torch.cat(self._generated)
        value, std = inception_score(generated, splits)
        real_value, real_std = inception_score(torch.cat(self._real), splits)
        self._details = {
            "is_std": std,
            "splits": splits,
            "n_generated": int(generated.shape[0]),
            "real_is": real_value,
            "real_is_std": real_std,
            "real_split": self.ctx.split,
            "logits": f"{EXTRACTOR} {LOGITS}",
            "quantisation": QUANTISATION,
            "window": list(self._window or ()),
            # Only present for a file accepted under --allow-unverified-weights.
            **({} if self._weights().verified else {"weights_unverified": True}),
        }
        return value

    def report(self) -> MetricReport:
        return MetricReport(
            details=self._details, weights={IS_INCEPTION.name: self._weights().sha256}
        )


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``is``."""
    return [
        MetricSpec(
            name="is",
            summary="Inception Score (torch-fidelity, 10 splits): for comparison with papers; weak on grey-scale slices.",
            version="1",
            factory="medganbench_plugins.metrics.inception_score:InceptionScore",
            params=(Param("splits", SPLITS, "parts the generated set is cut into", minimum=1),),
        )
    ]


@hookimpl
def medganbench_weights() -> list[WeightsSpec]:
    """Register the ``is-inception`` artifact."""
    return [IS_INCEPTION]
