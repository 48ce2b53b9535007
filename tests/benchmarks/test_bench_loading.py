"""Benchmark of the training data path: how fast the runner's batch iterator delivers batches.

Compare with ``tests/test_bench_models.py``: one 64 px training step takes 0.2–1.3 s on CPU,
while a batch of 8 slices (paired, or unpaired from two shuffles) arrives in well under a
millisecond per image, so the loader never holds up a step. Each benchmark checks what it
delivered, so a fast but wrong loader fails.
"""

from __future__ import annotations

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench.core.dataset import DatasetContext
from medganbench.core.params import resolve_args
from medganbench.defaults import medganbench_home
from medganbench.run.batches import TrainBatches

SIZE, BATCH = 64, 8


@pytest.fixture(scope="module")
def phantom(registries_module):
    spec = registries_module.datasets.get("phantom-brain")
    args = resolve_args(spec.params, {}, "phantom-brain")
    return spec.build(args, DatasetContext(SIZE, medganbench_home() / "datasets" / "phantom-brain"))


@pytest.fixture(scope="module")
def registries_module():
    from medganbench.core.manager import build_registries, make_plugin_manager

    return build_registries(make_plugin_manager(autoload=False))


@pytest.mark.parametrize("unpaired", [False, True], ids=["paired", "unpaired"])
def test_bench_train_batches(benchmark: BenchmarkFixture, phantom, unpaired: bool) -> None:
    batches = TrainBatches(
        phantom.split("train"), BATCH, 0, unpaired=unpaired, paired_data=phantom.info.paired
    )
    benchmark.group = f"train-batches-{BATCH}x{SIZE}px"
    raw, paired = benchmark(lambda: next(batches))
    assert paired is (not unpaired)
    assert raw["a"].shape == (BATCH, 1, SIZE, SIZE) and raw["b"].dtype == torch.float32
