"""Cost of each distribution metric on fixed Inception-sized features (evaluation time).

All of these run at evaluation, metered apart from the training budget; this file says what
each adds per evaluation. Features: 500 real and 500 generated, 2048-d (the Inception pool
size), float32, seeded. FID and KID are torch-fidelity's; the others are this project's. The
suite runs each once (``--benchmark-disable`` in the project's pytest options) on 256-d
features, as a check (each 2048-d FID costs seconds: FID∞'s ten of them over a minute on two
cores); measure with ``--benchmark-enable``, which uses the 2048-d features.
"""

from __future__ import annotations

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench_plugins.metrics.distribution import (
    fid_from_features,
    fid_infinity,
    kid_from_features,
)
from medganbench_plugins.metrics.manifold import density_coverage, precision_recall
from medganbench_plugins.metrics.memorisation import flagged

N, D = 500, 2048
#: The feature size of the suite's check run (no measurement).
CHECK_D = 256
BENCH = {"rounds": 3, "iterations": 1, "warmup_rounds": 1}
#: FID∞ is ten FIDs; one round says what it costs.
ONCE = {"rounds": 1, "iterations": 1, "warmup_rounds": 0}


@pytest.fixture
def features(benchmark: BenchmarkFixture) -> tuple[torch.Tensor, torch.Tensor]:
    # Per test (tens of milliseconds): the size follows whether this test measures.
    g = torch.Generator().manual_seed(0)
    d = CHECK_D if benchmark.disabled else D
    return torch.randn(N, d, generator=g), torch.randn(N, d, generator=g) * 1.1


def test_bench_fid(benchmark: BenchmarkFixture, features) -> None:
    benchmark.group = "feature-metrics-500x2048"
    assert benchmark.pedantic(fid_from_features, args=features, **BENCH) > 0


def test_bench_fid_inf(benchmark: BenchmarkFixture, features) -> None:
    benchmark.group = "feature-metrics-500x2048"
    value, details = benchmark.pedantic(fid_infinity, args=features, **ONCE)
    assert len(details["fit_sizes"]) == 10 and value >= 0


@pytest.mark.slow
def test_bench_kid(benchmark: BenchmarkFixture, features) -> None:
    benchmark.group = "feature-metrics-500x2048"
    assert benchmark.pedantic(kid_from_features, args=features, **BENCH)[0] > 0


def test_bench_precision_recall(benchmark: BenchmarkFixture, features) -> None:
    benchmark.group = "feature-metrics-500x2048"
    p, r = benchmark.pedantic(precision_recall, args=features, **BENCH)
    assert 0 <= p <= 1 and 0 <= r <= 1


def test_bench_density_coverage(benchmark: BenchmarkFixture, features) -> None:
    benchmark.group = "feature-metrics-500x2048"
    d, c = benchmark.pedantic(density_coverage, args=features, **BENCH)
    assert d >= 0 and 0 <= c <= 1


def test_bench_memorisation_rule(benchmark: BenchmarkFixture, features) -> None:
    benchmark.group = "feature-metrics-500x2048"
    flags, _, _ = benchmark.pedantic(flagged, args=features, **BENCH)
    assert flags.shape == (N,)
