"""``mmd``: the maximum mean discrepancy between generated and real volumes, as MONAI computes it.

``monai.metrics.MMDMetric`` (used by the brain-LDM and HA-GAN-era 3-D papers through MONAI
Generative) is the unbiased estimator of MMD² (Gretton et al. 2012, Eq. 3, below Lemma 6) with
the **linear kernel** on voxels: every volume is one vector of all its voxels, ``k(x, y) = x·y``,

    MMD² = Σ_{i≠j} y_i·y_j / (m(m−1)) + Σ_{i≠j} x_i·x_j / (n(n−1)) − 2 Σ_{i,j} x_i·y_j / (mn)

for m real volumes ``y`` and n generated volumes ``x`` (without ``y_mapping``, MONAI's default).
This module computes the same estimator from running sums, ``Σ_{i≠j} y_i·y_j = ‖Σ y_i‖² −
Σ ‖y_i‖²``: the volumes are never held, only two sum volumes, in float64.

Readings:

* **Values.** Both sets are clipped to the target window and rescaled to [0, 1] first, as the
  MONAI generative tutorials feed it images in [0, 1]; the value then grows with the voxel
  count (a sum over voxels, MONAI's), so it compares models on one dataset only.
  ``value_per_voxel`` in the details divides it by the voxel count.
* **Sets of different sizes.** MONAI computes over the two batches it is given and refuses
  batches of different sizes. Here both whole sets enter one computation: with as many
  generated as real volumes the value equals ``MMDMetric()(real, generated)`` called once on the
  whole sets (checked against MONAI in tests/plugins/metrics/test_volume_mmd.py); with m ≠ n it
  is the same estimator with its own m and n, which the formula defines (MONAI's own batches
  would have to be cut or padded). Not a mean over evaluation batches, so the batch size of the
  evaluation cannot change it.
* **No noise floor.** Halving the real set would need the real volumes themselves, which the
  running sums avoid holding.
* **One size.** Voxel vectors of different lengths have no dot product: volumes of another size
  than the first batch's are refused, and so, when the metric is built, is a dataset that
  evaluates each patient's whole volume (``VolumeGeometry.whole_volumes``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.core.specs import MetricSpec
from medganbench.errors import RunError
from medganbench_plugins.metrics.volume_inputs import check_volumes, one_size, unit_volumes

__all__ = ["MMD", "SetSums", "medganbench_metrics", "mmd_from_sums"]


class SetSums:
    """What the linear-kernel MMD needs of one set: the sum of its vectors, the sum of their
    squared norms and their count (float64)."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.squares = 0.0
        self.count = 0

    def add(self, vectors: torch.Tensor) -> None:
        """Accumulate float64 ``(N, V)`` vectors."""
        batch_total = vectors.sum(dim=0)
        self.total = batch_total if self.total is None else self.total + batch_total
        self.squares += float((vectors * vectors).sum())
        self.count += int(vectors.shape[0])

    def within(self) -> float:
        """The mean over ordered pairs of distinct vectors of their dot product."""
        assert self.total is not None
        pairs = float(self.total @ self.total) - self.squares
        return pairs / (self.count * (self.count - 1))


def mmd_from_sums(real: SetSums, generated: SetSums) -> float:
    """Unbiased linear-kernel MMD² (see the module docstring) of two accumulated sets.

    Raises:
        RunError: a set with fewer than two vectors (the estimator needs distinct pairs).
    """
    for name, s in (("real", real), ("generated", generated)):
        if s.count < 2:
            raise RunError(f"mmd needs at least 2 {name} volumes, got {s.count}.")
    assert real.total is not None and generated.total is not None
    cross = float(real.total @ generated.total) / (real.count * generated.count)
    return real.within() + generated.within() - 2.0 * cross


class MMD(Metric):
    """Unbiased MMD² between generated and real volumes, linear kernel on voxels in [0, 1]
    (lower is better; 0 in expectation when the two sets come from one distribution)."""

    needs = Needs.DISTRIBUTION
    higher_is_better = False
    spatial_dims = (3,)
    convention = (
        "unbiased MMD^2 (Gretton 2012 Eq. 3) with the linear kernel on all voxels, as "
        "monai.metrics.MMDMetric() computes it, of the real and generated volumes clipped to the "
        "target window and rescaled to [0,1]; both whole sets in one computation (equals "
        "MMDMetric()(real, generated) when the sets are of equal size, the same estimator with "
        "its own m and n otherwise); float64; no noise floor"
    )

    def __init__(
        self, args: Mapping[str, Any] | None = None, ctx: MetricContext | None = None
    ) -> None:
        super().__init__(args, ctx)
        one_size(self.ctx, "mmd")

    def reset(self) -> None:
        self._shape: tuple[int, ...] | None = None
        self._real = SetSums()
        self._generated = SetSums()
        self._details: dict[str, Any] = {}

    def update(self, batch: EvalBatch) -> None:
        self._shape = check_volumes(batch, "mmd", self._shape)
        self._window = batch.window
        self._voxels = math.prod(batch.pred.shape[1:])
        self._generated.add(unit_volumes(batch.pred, batch.window).flatten(1).cpu())
        self._real.add(unit_volumes(batch.target, batch.window).flatten(1).cpu())

    def compute(self) -> float:
        if self._generated.count == 0:
            raise RunError("mmd: no volumes were evaluated.")
        value = mmd_from_sums(self._real, self._generated)
        self._details = {
            "n_real": self._real.count,
            "n_generated": self._generated.count,
            "real_split": self.ctx.split,
            "kernel": "linear (dot product of all voxels)",
            "values": "clip to the window, rescale to [0,1]",
            "window": list(self._window),
            "voxels": self._voxels,
            "value_per_voxel": value / self._voxels,
            "noise_floor": "not computed (it would need the real volumes, which are not held)",
        }
        return value

    def report(self) -> MetricReport:
        return MetricReport(details=self._details)


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``mmd``."""
    return [
        MetricSpec(
            name="mmd",
            summary="Unbiased MMD^2, linear kernel on voxels in [0,1], as MONAI's MMDMetric (3-D).",
            version="1",
            factory="medganbench_plugins.metrics.volume_mmd:MMD",
        )
    ]
