"""Before/after benchmark of one training step per model at 64 px on CPU (issue 17).

Three configurations of every model, side by side in one pytest-benchmark run:

- ``before``: the step as it was before issue 17: fp32, one pass per network and input (no
  batched passes), and torch's default (single-tensor) Adam/RMSprop/SGD instead of the fused
  kernels;
- ``fp32``: today's step in fp32 (batched passes where the norm allows, fused optimisers);
- ``bf16``: today's step under bf16 autocast, what ``--precision auto`` gives on a CPU with
  native bf16.

The initialisation (which changed too) does not change the cost of a step. The benchmarks take
minutes, so they run only when asked for::

    MEDGANBENCH_BENCH_SPEEDUP=1 python3 -m pytest tests/benchmarks/test_bench_speedup.py \\
        --benchmark-columns=mean,stddev,rounds --benchmark-group-by=param:name
"""

from __future__ import annotations

import dataclasses
import math
import os

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench.core.model import ModelContext, TrainBatch
from medganbench.core.params import resolve_args
from medganbench.run.flops import PROBE_DATASET

SIZE = 64
ROUNDS = 5
MODELS = ["cyclegan", "hlsnc", "pix2pix", "dcgan", "wgan-gp", "sagan", "hagan"]

pytestmark = pytest.mark.skipif(
    os.environ.get("MEDGANBENCH_BENCH_SPEEDUP") != "1",
    reason="minutes long; set MEDGANBENCH_BENCH_SPEEDUP=1 to run",
)


def _default_optimizer(opt: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The same optimiser on the same parameters with torch's default kernels (no fused)."""
    options = {k: v for k, v in opt.defaults.items() if k not in ("fused", "foreach")}
    return type(opt)(opt.param_groups[0]["params"], **options)


@pytest.mark.parametrize("config", ["before", "fp32", "bf16"])
@pytest.mark.parametrize("name", MODELS)
def test_bench_step_before_and_after(
    benchmark: BenchmarkFixture, registries, name: str, config: str
) -> None:
    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=SIZE)
    torch.manual_seed(0)
    ctx = ModelContext(SIZE, info, torch.device("cpu"), 0, amp=config == "bf16")
    model = spec.build(resolve_args(spec.params, {}, name), ctx)
    if config == "before":
        if hasattr(model, "batched_passes"):
            model.batched_passes = False
        model.opt_g = _default_optimizer(model.opt_g)
        model.opt_d = _default_optimizer(model.opt_d)
    n = model.batch_size
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(n, 1, SIZE, SIZE, generator=gen) * 2 - 1
    b = torch.rand(n, 1, SIZE, SIZE, generator=gen) * 2 - 1
    batch = TrainBatch(a, b, a > -1, b > -1, True)
    model.train_mode()
    benchmark.group = f"{name}-{SIZE}px-cpu"
    benchmark.extra_info["batch_size"] = n

    def step() -> dict[str, float]:
        return {k: float(v) for k, v in model.train_step(batch).items()}  # reads the losses

    losses = benchmark.pedantic(step, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert losses and all(math.isfinite(v) for v in losses.values())
