"""Benchmark of Inception feature extraction (FID/KID's hot path) on CPU, with the real weights.

One call embeds a batch of 8 one-channel 64 px images: quantisation to uint8 RGB, torch-fidelity's
resize to 299 px and the InceptionV3 forward pass. Fresh images each round, so the extractor's
memo never answers. images/s = 8 / mean time.
"""

from __future__ import annotations

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench.weights.store import resolve_weights
from medganbench_plugins.metrics.inception import FID_INCEPTION, quantise
from medganbench_plugins.metrics.inception_net import InceptionFeatures

BATCH, SIZE = 8, 64
WINDOW = (-1024.0, 3000.0)


@pytest.fixture(scope="module")
def extractor() -> InceptionFeatures:
    return InceptionFeatures(resolve_weights(FID_INCEPTION), torch.device("cpu"), batch_size=BATCH)


@pytest.mark.slow
def test_bench_inception_features_cpu(
    benchmark: BenchmarkFixture, extractor: InceptionFeatures
) -> None:
    gen = torch.Generator().manual_seed(0)

    def fresh_batch() -> tuple[tuple[torch.Tensor], dict[str, object]]:
        ct = torch.rand(BATCH, 1, SIZE, SIZE, generator=gen) * 4024.0 - 1024.0
        return (ct,), {}

    def embed(ct: torch.Tensor) -> torch.Tensor:
        return extractor(quantise(ct, WINDOW))

    benchmark.group = f"inception-features-{BATCH}x{SIZE}px-cpu"
    benchmark.extra_info["images_per_call"] = BATCH
    features = benchmark.pedantic(embed, setup=fresh_batch, rounds=3, warmup_rounds=1)
    assert features.shape == (BATCH, 2048) and torch.isfinite(features).all()
