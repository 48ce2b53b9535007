"""Benchmarks of the harness's segmenter on phantom-brain CT at 64 px: training and segmenting.

The segmentation metrics train one segmenter per dataset, domain, recipe and seed (then cache
it) and segment every evaluated image; both are evaluation time, never a model's budget. One
training under the default :class:`~medganbench_plugins.metrics.segmenter.SegmenterRecipe` on the
128 real training slices (domain B, CT), and :func:`segment` on the 32 real test slices, whose
foreground Dice is recorded beside the times and checked. With benchmarks disabled (the test
suite) the file shrinks to 32 px, a few slices and 2 training steps, and checks the outputs only.
Figures: benchmarks/README.md.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench.core.dataset import DatasetContext
from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench_plugins.metrics.overlap import dice_per_class
from medganbench_plugins.metrics.segmenter import SegmenterRecipe, segment, train_segmenter

SIZE = 64
# A training takes tens of seconds: a few rounds, after no warm-up (the first pays MONAI's
# import, done by the fixture below).
ROUNDS = 3
# The mean foreground Dice the default recipe reaches on the real test slices (0.77 to 0.79
# measured over seeds, benchmarks/README.md), with room for other CPUs.
DICE_BOUND = 0.65
# Even shrunk, the file imports MONAI (seconds) and builds a phantom: the slow tier.
pytestmark = pytest.mark.slow
SMALL = {
    "train_subjects": "3",
    "val_subjects": "2",
    "test_subjects": "2",
    "slices_per_subject": "3",
}


@dataclasses.dataclass(frozen=True)
class Phantom:
    """Real phantom-brain CT slices and label maps of two splits, and what training needs."""

    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    window: tuple[float, float]
    classes: int
    recipe: SegmenterRecipe


@pytest.fixture
def phantom(benchmark: BenchmarkFixture, tmp_path_factory: pytest.TempPathFactory) -> Phantom:
    measuring = not benchmark.disabled
    spec = build_registries(make_plugin_manager(autoload=False)).datasets.get("phantom-brain")
    size = SIZE if measuring else 32
    # One folder for the file's tests: the phantom is generated once per size.
    cache = tmp_path_factory.getbasetemp() / "bench-segmenter" / "datasets" / "phantom-brain"
    data = spec.build(spec.resolve({} if measuring else SMALL), DatasetContext(size, cache))

    def stacked(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        items = [data.split(split)[i] for i in range(len(data.split(split)))]
        return torch.stack([i["b"] for i in items]), torch.stack([i["label_b"] for i in items])

    recipe = SegmenterRecipe() if measuring else SegmenterRecipe(steps=2)
    import monai.losses
    import monai.networks.nets  # noqa: F401 - paid here, not in the first round

    return Phantom(
        stacked("train"), stacked("test"), data.info.b.window, len(data.info.labels), recipe
    )


def _foreground_dice(found: torch.Tensor, labels: torch.Tensor, classes: int) -> float:
    """Mean over the foreground classes present of each class's mean Dice over slices."""
    per_class = dice_per_class(found[:, 0], labels[:, 0], range(1, classes)).nanmean(0)
    return float(per_class[~per_class.isnan()].mean())


def test_bench_segmenter_training_64px(benchmark: BenchmarkFixture, phantom: Phantom) -> None:
    walls: list[float] = []

    def train() -> torch.nn.Module:
        start = time.perf_counter()
        net = train_segmenter(
            *phantom.train, phantom.classes, phantom.window, phantom.recipe, 0, torch.device("cpu")
        )
        walls.append(time.perf_counter() - start)
        return net

    benchmark.group = f"segmenter-{SIZE}px-cpu"
    benchmark.extra_info["recipe"] = phantom.recipe.identity()
    benchmark.extra_info["train_slices"] = len(phantom.train[0])
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    net = benchmark.pedantic(train, rounds=1 if benchmark.disabled else ROUNDS, iterations=1)
    benchmark.extra_info["wall_s"] = walls
    found = segment(net, phantom.test[0], phantom.window)
    dice = _foreground_dice(found, phantom.test[1], phantom.classes)
    benchmark.extra_info["test_foreground_dice"] = dice
    assert not net.training
    if not benchmark.disabled:  # two steps at 32 px learn nothing worth a bound
        assert dice > DICE_BOUND


def test_bench_segment_test_split_64px(benchmark: BenchmarkFixture, phantom: Phantom) -> None:
    images, labels = phantom.test
    net = train_segmenter(
        *phantom.train, phantom.classes, phantom.window, phantom.recipe, 0, torch.device("cpu")
    )
    walls: list[float] = []

    def run() -> torch.Tensor:
        start = time.perf_counter()
        found = segment(net, images, phantom.window)
        walls.append(time.perf_counter() - start)
        return found

    benchmark.group = f"segmenter-{SIZE}px-cpu"
    benchmark.extra_info["test_slices"] = len(images)
    found = benchmark(run)
    benchmark.extra_info["wall_s"] = walls
    assert found.shape == labels.shape and found.dtype == torch.int64
    assert int(found.min()) >= 0 and int(found.max()) < phantom.classes
