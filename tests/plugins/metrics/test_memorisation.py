"""The memorisation audit on real runs: a model that hands back its training images, and one
that draws noise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from medganbench.core.hookspecs import hookimpl
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.core.specs import ModelSpec
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec

TINY_CT = {"domain": "b", "train_subjects": 2, "val_subjects": 2, "test_subjects": 2,
           "slices_per_subject": 4}  # fmt: skip


class Copier(Model):
    """Remembers every training image it is shown and samples them back."""

    task = Task.SAMPLE

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        self.seen: list[torch.Tensor] = []

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        self.seen.extend(batch.b.cpu())
        return {}

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.stack([self.seen[i % len(self.seen)] for i in range(n)])

    def state_dict(self) -> dict[str, Any]:
        return {"seen": list(self.seen)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.seen = list(state["seen"])


class Noise(Copier):
    """Samples uniform noise: nothing like any training image."""

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        shape = (n, 1, self.ctx.image_size, self.ctx.image_size)
        return torch.rand(shape, generator=generator, device=generator.device) * 2 - 1


class _Plugin:
    @hookimpl
    def medganbench_models(self) -> list[ModelSpec]:
        return [ModelSpec("copier", "copies", "1", Copier), ModelSpec("noise", "noise", "1", Noise)]


@pytest.fixture(scope="module")
def registries() -> Registries:
    return build_registries(make_plugin_manager(autoload=False, extra=(_Plugin(),)))


def _audit(registries: Registries, model: str, tmp_path: Path) -> tuple[float, Path]:
    spec = RunSpec(model=model, dataset_args=TINY_CT, image_size=32, metrics=("memorisation",),
                   budget=Budget(steps=8))  # fmt: skip
    options = RunOptions(
        leaderboard_dir=tmp_path / "boards", runs_dir=tmp_path / "runs", progress=False
    )
    result = execute_run(spec, registries, options)
    return result.metrics["memorisation"], result.run_dir


@pytest.mark.slow
def test_a_model_that_returns_training_images_scores_near_one(
    registries: Registries, tmp_path: Path
) -> None:
    value, run_dir = _audit(registries, "copier", tmp_path)
    assert value >= 0.9
    grid = Image.open(run_dir / "nearest.png")
    assert grid.height > 2 * 32  # two rows: generated above nearest training images


@pytest.mark.slow
def test_a_model_that_returns_noise_scores_near_zero(
    registries: Registries, tmp_path: Path
) -> None:
    value, _ = _audit(registries, "noise", tmp_path)
    assert value <= 0.1
