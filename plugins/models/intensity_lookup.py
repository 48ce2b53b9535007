"""The ``intensity-lookup`` baseline: a fitted mapping from source values to target values.

Each training step adds one batch of training pairs to a joint histogram: for every source
intensity bin, the sum and count of the target values at the same pixels. Translation maps each
source pixel to the mean target value of its bin, interpolated linearly between bin centres. It
is the best any pixel-wise lookup can do in mean squared error, and so the floor a learned model
must beat by using context. On MR→CT it cannot separate bone from air (both dark on MR), which
is why the task needs more than a lookup.

It needs paired training data: on unpaired data the pixel correspondence does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench.errors import RunError
from medganbench_plugins.models.limits import MAX_BINS


class Histogram(nn.Module):
    """The fitted statistics as buffers (so they export like any network's): per source bin,
    the sum of the target values and their count, float64."""

    sum: torch.Tensor
    count: torch.Tensor

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.register_buffer("sum", torch.zeros(bins, dtype=torch.float64))
        self.register_buffer("count", torch.zeros(bins, dtype=torch.float64))


class IntensityLookupModel(Model):
    """Piecewise-linear lookup table from source bins to mean target values."""

    task = Task.TRANSLATE
    needs_paired_training = True
    # A histogram fitted in float64, not a network: the run's precision changes nothing.
    learned = False

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        self.bins = int(self.args["bins"])
        self.histogram = Histogram(self.bins)

    def _bin_index(self, x: torch.Tensor) -> torch.Tensor:
        # Inputs are in [-1, 1]; bin i covers [-1 + i·w, -1 + (i+1)·w).
        scaled = (x.clamp(-1.0, 1.0) + 1.0) * (self.bins / 2.0)
        return scaled.long().clamp_(0, self.bins - 1)

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        source, target = (batch.a, batch.b) if self.direction == "a2b" else (batch.b, batch.a)
        if source.shape[1] != 1 or target.shape[1] != 1:
            raise RunError("intensity-lookup supports single-channel images only.")
        idx = self._bin_index(source).flatten().cpu()
        values = target.flatten().double().cpu()
        self.histogram.sum.index_add_(0, idx, values)
        self.histogram.count.index_add_(0, idx, torch.ones_like(values))
        # Report the current table's fit on this batch, so the progress bar shows something real.
        pred = self.translate(source)
        return {"mse": float(((pred - target) ** 2).mean())}

    def _table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Bin centres and mean targets for the bins that have seen data."""
        counts, sums = self.histogram.count, self.histogram.sum
        filled = counts > 0
        if not bool(filled.any()):
            raise RunError("intensity-lookup was not fitted: the budget ended before any batch.")
        centres = -1.0 + (torch.arange(self.bins, dtype=torch.float64) + 0.5) * (2.0 / self.bins)
        return centres[filled], sums[filled] / counts[filled]

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        xs, ys = self._table()
        x = source.double().cpu().clamp(-1.0, 1.0)
        # Linear interpolation between filled bin centres; constant beyond the outermost ones.
        pos = torch.searchsorted(xs, x.flatten().contiguous()).clamp(1, max(len(xs) - 1, 1))
        if len(xs) == 1:
            out = ys.expand(x.numel())
        else:
            x0, x1 = xs[pos - 1], xs[pos]
            y0, y1 = ys[pos - 1], ys[pos]
            t = ((x.flatten() - x0) / (x1 - x0)).clamp(0.0, 1.0)
            out = y0 + t * (y1 - y0)
        return out.reshape(source.shape).to(source.device, source.dtype)

    def state_dict(self) -> dict[str, Any]:
        return {"sum": self.histogram.sum.clone(), "count": self.histogram.count.clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.histogram.sum.copy_(state["sum"])
        self.histogram.count.copy_(state["count"])

    def inference_modules(self) -> dict[str, nn.Module]:
        return {"histogram": self.histogram}


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="intensity-lookup",
            summary="Non-learned floor: per-intensity mean target value fitted on training pairs.",
            version="1",
            factory="medganbench_plugins.models.intensity_lookup:IntensityLookupModel",
            params=(
                Param("bins", 256, "number of source intensity bins", minimum=2, maximum=MAX_BINS),
                Param("batch_size", 8, "training pairs per step", minimum=1),
                Param("direction", "a2b", "translate A→B or B→A", choices=("a2b", "b2a")),
            ),
        )
    ]
