"""Per-image cost of each feature encoder, and of FRD's radiomic extraction, on the CPU.

One call embeds 4 one-channel 64 px images (the phantom's size): quantisation to uint8 RGB, the
encoder's resize and normalisation, and the forward pass; fresh images each round. The timm
encoders get seeded random tensors of their architecture (the cost does not depend on the
values); Inception gets its real weights. FRD: frd-score's v1 extraction and distance on 4 real
+ 4 generated images, i.e. 8 extractions per call.

Measurement only (correctness is in tests/plugins/metrics/): skipped unless benchmarks are
enabled, since RadDINO alone costs seconds per image:

    python -m pytest -n 0 tests/benchmarks/test_bench_encoders.py --benchmark-enable \
        --benchmark-timer time.process_time
"""

from __future__ import annotations

import pytest
import timm
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench.core.encoder import EncoderContext
from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.weights.store import resolve_weights
from medganbench_plugins.metrics.encoders import ENCODERS
from medganbench_plugins.metrics.inception import FID_INCEPTION, quantise

BATCH, SIZE = 4, 64
WINDOW = (-1024.0, 3000.0)


def _weights(name: str) -> dict[str, torch.Tensor]:
    spec = next(e for e in ENCODERS if e.name == name)
    if spec.weights is FID_INCEPTION:
        return resolve_weights(FID_INCEPTION).load()
    cls = spec.load()
    kwargs = {"img_size": 518} if "img_size" in cls.create_kwargs else {}
    with torch.device("meta"):
        net = timm.create_model(cls.model_name, pretrained=False, num_classes=0, **kwargs)
    g = torch.Generator().manual_seed(0)
    return {
        k: torch.ones(v.shape) if k.endswith("running_var") else 0.02 * torch.randn(v.shape, generator=g)
        if v.is_floating_point() else torch.zeros(v.shape, dtype=v.dtype)
        for k, v in net.state_dict().items()
    }  # fmt: skip


def _fresh(gen: torch.Generator) -> tuple[tuple[torch.Tensor], dict[str, object]]:
    return (torch.rand(BATCH, 1, SIZE, SIZE, generator=gen) * 4024.0 - 1024.0,), {}


@pytest.mark.parametrize("name", [e.name for e in ENCODERS])
def test_bench_encoder_cpu(benchmark: BenchmarkFixture, name: str) -> None:
    if benchmark.disabled:
        pytest.skip("measurement only: run with --benchmark-enable")
    spec = next(e for e in ENCODERS if e.name == name)
    encoder = spec.build({}, EncoderContext(torch.device("cpu"), _weights(name)))
    gen = torch.Generator().manual_seed(0)
    benchmark.group = f"encoder-{BATCH}x{SIZE}px-cpu"
    benchmark.extra_info["images_per_call"] = BATCH
    features = benchmark.pedantic(
        lambda ct: encoder.embed(quantise(ct, WINDOW)),
        setup=lambda: _fresh(gen),
        rounds=3,
        warmup_rounds=1,
    )
    assert features.shape == (BATCH, encoder.dim)


def test_bench_frd_cpu(benchmark: BenchmarkFixture) -> None:
    if benchmark.disabled:
        pytest.skip("measurement only: run with --benchmark-enable")
    pytest.importorskip("frd_score")
    pytest.importorskip("radiomics")
    from medganbench_plugins.metrics.frd import FRD

    gen = torch.Generator().manual_seed(0)
    mask = torch.ones(BATCH, 1, SIZE, SIZE, dtype=torch.bool)

    def score(ct: torch.Tensor) -> float:
        metric = FRD({}, MetricContext())
        metric.update(EvalBatch(ct.flip(-1), ct, mask, WINDOW, paired=False, domain="b"))
        return metric.compute()

    benchmark.group = f"frd-{2 * BATCH}x{SIZE}px-cpu"
    benchmark.extra_info["images_per_call"] = 2 * BATCH
    benchmark.pedantic(score, setup=lambda: _fresh(gen), rounds=3, warmup_rounds=0)
