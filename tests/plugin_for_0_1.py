"""A plugin written against medganbench 0.1, before the core moved into subpackages.

Its imports are those of 0.1's template (examples/template_model_plugin.py) and of 0.1's
metric plugins: tests/test_compat.py imports it, expecting one DeprecationWarning per old path,
and loads it through the real plugin manager. Do not modernise it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from medganbench.hookspecs import hookimpl
from medganbench.model import Model, ModelContext, Task, TrainBatch
from medganbench.params import Param
from medganbench.specs import ModelSpec
from medganbench.weights import UrlSource, WeightsSpec


class OldConvModel(Model):
    """One convolution with an L1 loss on paired images."""

    task = Task.TRANSLATE
    needs_paired_training = True

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        a, b = ctx.dataset.a.channels, ctx.dataset.b.channels
        self.net = nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.Tanh()).to(ctx.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=float(self.args["lr"]))

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        loss = (self.net(batch.a) - batch.b).abs().mean()
        loss.backward()
        self.optimizer.step()
        return {"l1": loss.item()}

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        return self.net(source)

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.net.parameters())


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="old-conv",
            summary="A plugin of 0.1: one convolution, L1 loss.",
            version="1",
            factory=f"{__name__}:OldConvModel",
            params=(
                Param("lr", 1e-3, "Adam learning rate", minimum=0.0),
                Param("batch_size", 2, "images per step", minimum=1),
            ),
        )
    ]


@hookimpl
def medganbench_weights() -> list[WeightsSpec]:
    source = UrlSource(
        url="https://example.org/old.safetensors",
        sha256="0" * 64,
        convert="medganbench.weights:load_tensors",
    )
    return [WeightsSpec(name="old-weights", summary="A 0.1 weights artifact.", sources=(source,))]
