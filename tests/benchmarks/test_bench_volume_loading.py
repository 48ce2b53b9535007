"""Benchmark: loading, cutting and caching one CT patient, beside the reader library's own decode.

The toolkit (:func:`medganbench.data.read_patients` under :func:`medganbench.data.cached`)
decodes a patient's NIfTI volume once with nibabel, keeps its contiguous z-planes, resizes them
in chunks and writes the slice cache; ``nibabel`` is ``numpy.asanyarray(nib.load(f).dataobj)``,
the library's own decode of the same file. Both run side by side in every round
(:func:`~tests.benchmarks.interleaved.time_interleaved`), on int16 CT volumes with a slope and
an intercept, 512 × 512 × 100 and × 200 voxels (``MEDGANBENCH_BENCH_VOLUMES=1``; without it,
128 × 128 × 8 and × 16, so the suite's single round stays quick). The ratio toolkit/nibabel
should stay below 2 and each time should double with the depth. Figures: benchmarks/README.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench.data import InputProblems, Patient, cached, ct_domain, square_stack
from medganbench.data.patients import CutSettings, read_patients
from tests.benchmarks.interleaved import time_interleaved

FULL = os.environ.get("MEDGANBENCH_BENCH_VOLUMES") == "1"
SIDE = 512 if FULL else 128
DEPTHS = (100, 200) if FULL else (8, 16)
SIZE = 256 if FULL else 64


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """One CT patient per depth: int16 stored values, scl_slope 1 and scl_inter -1024."""
    folder = tmp_path_factory.mktemp("volumes")
    rng = np.random.default_rng(0)
    out = {}
    for depth in DEPTHS:
        stored = rng.integers(0, 2500, (SIDE, SIDE, depth), dtype=np.int16)
        image = nib.Nifti1Image(stored, np.eye(4))
        image.header.set_slope_inter(1.0, -1024.0)
        out[depth] = folder / f"ct-{depth}.nii.gz"
        nib.save(image, out[depth])
    return out


@pytest.mark.parametrize("depth", DEPTHS)
def test_bench_load_cut_and_cache_one_patient(
    benchmark: BenchmarkFixture, volumes: dict[int, Path], depth: int, tmp_path: Path
) -> None:
    path = volumes[depth]
    patient = Patient("p", "p", {"b": path})
    domains = {"b": ct_domain()}
    settings = CutSettings(size=SIZE)
    rounds = iter(range(10**6))
    payloads: list[dict] = []

    def toolkit() -> None:
        # A fresh cache folder each round: this measures building and writing, not a hit.
        build = lambda: read_patients([patient], domains, settings, path.parent, InputProblems())  # noqa: E731
        payloads.append(cached(tmp_path / f"cache-{next(rounds)}", {"p": 1}, build)[0])

    decoded: list[np.ndarray] = []
    calls = {
        "nibabel": lambda: decoded.append(np.asanyarray(nib.load(path).dataobj)),
        "toolkit": toolkit,
    }
    benchmark.group = f"volume-load-{SIDE}x{SIDE}"
    benchmark.extra_info["voxels"] = SIDE * SIDE * depth
    times = time_interleaved(benchmark, calls, rounds=3)
    benchmark.extra_info["ratio_toolkit_over_nibabel"] = float(
        np.median(times["toolkit"]) / np.median(times["nibabel"])
    )
    # What was delivered: every plane, resized exactly as one square_stack call resizes it.
    payload, volume = payloads[-1], decoded[-1].astype(np.float32)
    assert payload["b"].shape == (depth, 1, SIZE, SIZE) and payload["slices"] == list(range(depth))
    expected = square_stack(np.moveaxis(volume[:, :, :2], 2, 0), SIZE)
    assert torch.equal(payload["b"][:2], expected)
