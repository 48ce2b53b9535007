"""The ``identity`` baseline: the output is the input.

The floor every translation model must beat: it scores how far apart the two domains are before
any learning. Training steps only consume batches (so the budget ledger is honest); nothing is
learned. Where the domains' windows differ, the input in [-1, 1] is read as the target domain's
[-1, 1], i.e. the source window is mapped linearly onto the target window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import Model, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec


class IdentityModel(Model):
    """Returns its input unchanged."""

    task = Task.TRANSLATE
    learned = False

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        return {}

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        return source.clone()

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        return None

    def inference_modules(self) -> dict[str, nn.Module]:
        return {}


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="identity",
            summary="Non-learned floor: output = input (source window mapped onto target window).",
            version="1",
            factory="medganbench_plugins.models.identity:IdentityModel",
            params=(
                Param("batch_size", 8, "images per (no-op) training step", minimum=1),
                Param("direction", "a2b", "translate A→B or B→A", choices=("a2b", "b2a")),
            ),
        )
    ]
