"""Before/after benchmark of one training step per model at 64 px on CPU (issue 17).

Three configurations of every model, side by side in one pytest-benchmark run:

- ``before``: the step as it was before issue 17: fp32, one pass per network and input (no
  batched passes), torch's default (single-tensor) Adam/RMSprop/SGD instead of the fused
  kernels, and switchable norm through autograd of its op-by-op composite;
- ``fp32``: today's step in fp32 (batched passes where the norm allows, fused optimisers);
- ``bf16``: today's step under bf16 autocast, what ``--precision auto`` gives on a CPU with
  native bf16.

Measure on an idle machine: on a shared one, oneDNN's threaded bf16 weight-gradient kernels
stall and the bf16 figures say more about the load than about bf16 (``benchmarks/README.md``).

The initialisation (which changed too) does not change the cost of a step. Like
``test_bench_models.py`` on a shared machine, the step times are CPU time of this process
(``time.process_time``, both torch threads summed; ``OMP_WAIT_POLICY=PASSIVE`` keeps idle
threads from spinning into it), which other jobs inflate less than wall time, except for the
bf16 weight gradients above. The benchmarks take minutes, so they run only when asked for::

    OMP_WAIT_POLICY=PASSIVE MEDGANBENCH_BENCH_SPEEDUP=1 python3 -m pytest -n 0 --benchmark-enable \\
        tests/benchmarks/test_bench_speedup.py --benchmark-timer time.process_time \\
        --benchmark-json speedup.json
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
from collections.abc import Callable
from typing import Any

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench.core.model import ModelContext, TrainBatch
from medganbench.core.params import resolve_args
from medganbench.run.flops import PROBE_DATASET
from tests.benchmarks.interleaved import time_interleaved
from tests.plugins.models.switchable_composite import use_composite_norms_in_model

SIZE = 64
ROUNDS = 5
#: The translation models and the GANs that synthesise (ddpm: no GAN step, none of the changes).
MODELS = [
    "cyclegan", "hlsnc", "pix2pix",
    "dcgan", "infogan", "sagan", "wgan", "wgan-gp", "unetgan", "hagan",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    os.environ.get("MEDGANBENCH_BENCH_SPEEDUP") != "1",
    reason="minutes long; set MEDGANBENCH_BENCH_SPEEDUP=1 to run",
)


def _default_optimizer(opt: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The same optimiser on the same parameters with torch's default kernels (no fused)."""
    options = {k: v for k, v in opt.defaults.items() if k not in ("fused", "foreach")}
    return type(opt)(opt.param_groups[0]["params"], **options)


CONFIGS = ("before", "fp32", "bf16")


def _model_and_batch(registries, name: str, config: str) -> tuple[Any, TrainBatch]:
    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=SIZE)
    torch.manual_seed(0)
    ctx = ModelContext(SIZE, info, torch.device("cpu"), 0, amp=config == "bf16")
    model = spec.build(resolve_args(spec.params, {}, name), ctx)
    if config == "before":
        # hlsnc's switchable norm ran autograd through its op-by-op composite then.
        use_composite_norms_in_model(model)
        if hasattr(model, "batched_passes"):
            model.batched_passes = False
        model.opt_g = _default_optimizer(model.opt_g)
        model.opt_d = _default_optimizer(model.opt_d)
    n = model.batch_size
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(n, 1, SIZE, SIZE, generator=gen) * 2 - 1
    b = torch.rand(n, 1, SIZE, SIZE, generator=gen) * 2 - 1
    model.train_mode()
    return model, TrainBatch(a, b, a > -1, b > -1, True)


@pytest.mark.parametrize("name", MODELS)
def test_bench_step_before_and_after(benchmark: BenchmarkFixture, registries, name: str) -> None:
    """One benchmark round = one step of each configuration, back to back.

    Interleaving makes the ratios robust to a machine whose load drifts (a shared machine): the
    three configurations always share the same conditions. pytest-benchmark times the rounds;
    each configuration's own step times go to ``extra_info`` (median and min, in seconds) with
    the ratios of ``before`` to the others.
    """
    built = {c: _model_and_batch(registries, name, c) for c in CONFIGS}
    last: dict[str, float] = {}

    def step(config: str) -> Callable[[], None]:
        model, batch = built[config]

        def run() -> None:
            losses = model.train_step(batch)
            last.update({k: float(v) for k, v in losses.items()})  # reads the losses

        return run

    benchmark.group = f"step-{SIZE}px-cpu-interleaved"
    measured = time_interleaved(benchmark, {c: step(c) for c in CONFIGS}, ROUNDS)
    assert last and all(math.isfinite(v) for v in last.values())
    for config in ("fp32", "bf16"):
        benchmark.extra_info[f"speedup_{config}"] = statistics.median(
            measured["before"]
        ) / statistics.median(measured[config])
