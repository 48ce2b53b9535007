"""Template: a metric plugin for medganbench. Copy this file to add a metric.

A metric plugin returns :class:`MetricSpec` objects from ``medganbench_metrics``. The factory
builds a :class:`~medganbench.plugin.Metric`; a metric computed per image pair and averaged
(PSNR, SSIM, this one) derives from :class:`PairedMetric` and only writes :meth:`score`.

The contract (``medganbench/core/metric.py``): images arrive in the target domain's physical
units with the domain's value window and body masks; ``needs`` says whether the metric compares
pairs (``Needs.PAIRED``: refused on unpaired data) or distributions; ``higher_is_better`` sets
the ranking; ``convention`` is one line written on every row. ``medganbench check metric
template-ncc`` checks all of it. Bump ``version`` whenever the number could change.
"""

from __future__ import annotations

import torch

from medganbench.plugin import MetricSpec, PairedMetric, Param, hookimpl


class NormalisedCrossCorrelation(PairedMetric):
    """Pearson correlation of prediction and target inside the body mask, per image."""

    higher_is_better = True
    convention = "Pearson correlation inside the target's body mask, images clipped to the window"

    def score(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        *,
        window: tuple[float, float],
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        low, high = window
        inside = torch.ones_like(pred, dtype=torch.bool) if mask is None else mask.expand_as(pred)
        weight = inside.flatten(1).double()
        pred = pred.double().clamp(low, high).flatten(1)
        target = target.double().clamp(low, high).flatten(1)
        count = weight.sum(1).clamp_min(1.0)
        pred = pred - (pred * weight).sum(1, keepdim=True) / count[:, None]
        target = target - (target * weight).sum(1, keepdim=True) / count[:, None]
        covariance = (pred * target * weight).sum(1)
        spread = ((pred**2 * weight).sum(1) * (target**2 * weight).sum(1)).sqrt()
        eps = float(self.args["eps"])
        return covariance / (spread + eps)


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="template-ncc",
            summary="Template: normalised cross-correlation in the body mask (examples/plugin_template).",
            version="1",
            factory=f"{__name__}:NormalisedCrossCorrelation",
            params=(Param("eps", 1e-8, "added to the denominator of flat images", minimum=0.0),),
        )
    ]
