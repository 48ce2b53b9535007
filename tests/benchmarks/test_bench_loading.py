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


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory):
    """64 MiB of random bytes: a stand-in for a dataset's image and volume files."""
    path = tmp_path_factory.mktemp("hash") / "volume.bin"
    path.write_bytes(torch.randint(0, 256, (64 * 2**20,), dtype=torch.uint8).numpy().tobytes())
    return path


@pytest.mark.parametrize("algorithm", ["xxh3-128", "sha256"])
def test_bench_content_hash(benchmark: BenchmarkFixture, dataset_file, algorithm: str) -> None:
    """The dataset fingerprint's content hash (xxh3) beside sha256, on the same file."""
    import hashlib

    from medganbench.data import content_hash

    def sha256(path) -> str:  # type: ignore[no-untyped-def]
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    benchmark.group = "content-hash-64MiB"
    digest = benchmark(content_hash if algorithm == "xxh3-128" else sha256, dataset_file)
    assert len(digest) == (32 if algorithm == "xxh3-128" else 64)
