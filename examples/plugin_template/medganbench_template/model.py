"""Template: a model plugin for medganbench. Copy this file to add a model.

Adding a model never means editing medganbench itself. A plugin is a module with a function
decorated by ``hookimpl`` named ``medganbench_models`` that returns :class:`ModelSpec` objects;
each spec points at a factory (here the class ``TinyConvModel``) by import path.

To use your copy:

1. Put it in your own package, e.g. ``my_package/medganbench_plugin.py``, and change the names
   (the spec's ``name`` is what users type after ``--model``; the ``factory`` string must be
   the import path of your class).
2. Declare the entry point in your package's ``pyproject.toml`` (see this template package's
   own ``pyproject.toml``) and install the package::

       [project.entry-points.medganbench]
       my_models = "my_package.medganbench_plugin"

3. Check it: ``medganbench check model tiny-conv`` runs the contract checks every built-in
   model passes; then ``medganbench run --model tiny-conv``. docs/plugins.md is the guide.

The contract (see ``medganbench/core/model.py``): the runner builds the model once with its resolved
arguments and a ``ModelContext``, calls ``train_step`` once per optimiser step until the budget
ends, then ``eval_mode`` and ``translate`` (images in [-1, 1]) on the test split. Bump
``version`` whenever a change could move a result: it is written on every leaderboard row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from medganbench.plugin import Model, ModelContext, ModelSpec, Param, Task, TrainBatch, hookimpl


class TinyConvModel(Model):
    """A three-layer convolutional network trained with an L1 loss on paired images.

    Not a GAN: it exists to show the shape of a plugin. A GAN keeps a generator and a
    discriminator (and their optimisers) here and does one update of each in ``train_step``.
    """

    task = Task.TRANSLATE
    needs_paired_training = True  # the L1 loss compares a[i] with b[i]

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        width = int(self.args["width"])
        channels_in, channels_out = ctx.dataset.a.channels, ctx.dataset.b.channels
        self.net = nn.Sequential(
            nn.Conv2d(channels_in, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, channels_out, 3, padding=1),
            nn.Tanh(),
        ).to(ctx.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=float(self.args["lr"]))

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        loss = (self.net(batch.a) - batch.b).abs().mean()
        loss.backward()
        self.optimizer.step()
        return {"l1": loss.item()}

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        return self.net(source)

    def eval_mode(self) -> None:
        self.net.eval()

    def train_mode(self) -> None:
        self.net.train()

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def inference_modules(self) -> dict[str, nn.Module]:
        # What `medganbench export` ships and `load_generator` restores: the network
        # translate() uses, without the optimiser.
        return {"net": self.net}

    def trained_modules(self) -> dict[str, nn.Module]:
        # Every network the optimiser trains: on several devices (`run --devices N`) their
        # weights start equal and their gradients are averaged over the devices.
        return {"net": self.net}


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="tiny-conv",
            summary="Template: three-layer CNN with L1 loss (examples/plugin_template).",
            version="1",
            factory=f"{__name__}:TinyConvModel",
            params=(
                Param("width", 16, "feature channels", minimum=1),
                Param("lr", 1e-3, "Adam learning rate", minimum=0.0),
                Param("batch_size", 8, "images per step", minimum=1),
            ),
        )
    ]
