"""Small components that keep, or each break one of, their kind's contracts (for the kit's
own tests). Registered as one plugin module (this one)."""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset as TorchDataset

from medganbench.core.dataset import SPLITS, Dataset, DatasetContext, DatasetInfo, DomainInfo
from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import PairedMetric
from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import DatasetSpec, MetricSpec, ModelSpec
from medganbench.errors import UsageError


class Sound(Model):
    """A 1x1 convolution trained with Adam: keeps every model contract."""

    task = Task.TRANSLATE

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        self.net = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Tanh())
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=0.1)

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        return (self.net(batch.a) - batch.b).abs().mean()

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        self.optimizer.zero_grad()
        loss = self.loss(batch)
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

    def inference_modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def trained_modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}


class TrainsTooLittle(Sound):
    """Declares no trained network: on several devices its gradients would not be averaged."""

    def trained_modules(self) -> dict[str, nn.Module]:
        return {}


class OutOfRange(Sound):
    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        return self.net(source) + 1.5


class Unseeded(Sound):
    """Draws its noise from the operating system: two runs with one seed differ."""

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        noise = torch.Generator().manual_seed(int.from_bytes(os.urandom(4), "little"))
        jitter = 0.1 * torch.randn(batch.a.shape, generator=noise)
        return (self.net(batch.a + jitter) - batch.b).abs().mean()


class LosesTheBias(Sound):
    def state_dict(self) -> dict[str, Any]:
        return {"weight": self.net[0].weight.detach().clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            self.net[0].weight.copy_(state["weight"])


class ForgetsTheOptimiser(Sound):
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])


class PicklesAnObject(Sound):
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "history": types.SimpleNamespace(steps=1)}


class ClaimsToLearnNothing(Sound):
    """Says it learns nothing (so its precision label is left out) but has parameters."""

    learned = False


class ExportsTooLittle(Sound):
    """Translates through a second layer that inference_modules() leaves out: an export of it
    would rebuild that layer with fresh weights."""

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        self.scale = nn.Conv2d(1, 1, 1)

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        return torch.tanh(self.scale(self.net(source)))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "scale": self.scale.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.scale.load_state_dict(state["scale"])


class ExportsNothing(Sound):
    """Written before inference_modules() existed: the export contract is skipped, saying why."""

    def inference_modules(self) -> dict[str, nn.Module]:
        return Model.inference_modules(self)  # type: ignore[return-value]


class FailsToBuild(Sound):
    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        raise RuntimeError("no GPU found")


class ZeroWhenEmpty(PairedMetric):
    """A metric that scores nothing as 0 instead of saying nothing was evaluated."""

    higher_is_better = False
    convention = "mean absolute difference"

    def compute(self) -> float:
        return super().compute() if self._values else 0.0

    def score(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        *,
        window: tuple[float, float],
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return (pred - target).abs().flatten(1).mean(1).double()


DOMAIN = DomainInfo("square", "MR", "a.u.", (0.0, 1.0))
_BUILDS = [0]


class ShiftingFingerprint(Dataset):
    """Eight squares per split, whose fingerprint changes with every build."""

    def __init__(self, args: Mapping[str, Any], ctx: DatasetContext) -> None:
        self.info = DatasetInfo(DOMAIN, DOMAIN, True, SPLITS, ctx.image_size)
        size = ctx.image_size
        mask = torch.zeros((1, size, size), dtype=torch.bool)
        mask[:, size // 4 : -size // 4, size // 4 : -size // 4] = True
        self.items = [{"a": mask.float(), "b": mask.float(), "mask_a": mask, "mask_b": mask}] * 8
        _BUILDS[0] += 1

    def split(self, name: str) -> TorchDataset[dict[str, torch.Tensor]]:
        if name not in SPLITS:
            raise UsageError(f"no split {name!r}")
        return self.items  # type: ignore[return-value]

    def fingerprint(self) -> str:
        return f"{_BUILDS[0]:016d}"


MODELS = {
    "fake-sound": Sound,
    "fake-out-of-range": OutOfRange,
    "fake-unseeded": Unseeded,
    "fake-loses-the-bias": LosesTheBias,
    "fake-forgets-the-optimiser": ForgetsTheOptimiser,
    "fake-pickles-an-object": PicklesAnObject,
    "fake-claims-to-learn-nothing": ClaimsToLearnNothing,
    "fake-exports-too-little": ExportsTooLittle,
    "fake-exports-nothing": ExportsNothing,
    "fake-trains-too-little": TrainsTooLittle,
    "fake-fails-to-build": FailsToBuild,
}


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    batch = Param("batch_size", 2, "images per step", minimum=1)
    return [ModelSpec(n, "a fake", "1", c, params=(batch,)) for n, c in MODELS.items()]


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    return [MetricSpec("fake-zero-when-empty", "a fake", "1", ZeroWhenEmpty)]


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    return [DatasetSpec("fake-shifting", "a fake", "1", ShiftingFingerprint, paired=True)]
