"""Switchable norm before and after its hand-derived backward, on CPU (issue 17).

``composite``: the op-by-op formulation autograd differentiates
(:mod:`tests.plugins.models.switchable_composite`, what the module ran before, minus its
running-statistics update, so the "before" figures are if anything too fast); ``function``:
:func:`medganbench_plugins.nn.norms.switchable_norm` as the module runs it now.

Two measurements, each interleaving the two implementations round by round so that both share
the machine's conditions:

- one layer, forward and backward, at the three activation shapes of ``hlsnc``'s generator at
  64 px and batch 1, in fp32 and in bf16;
- one whole ``hlsnc`` training step at 64 px, with every switchable norm of the model swapped
  for the composite, against the model as built.

Times are CPU time of this process (``time.process_time``). Both take about a minute and run
only when asked for::

    OMP_WAIT_POLICY=PASSIVE MEDGANBENCH_BENCH_SPEEDUP=1 python3 -m pytest -n 0 --benchmark-enable \\
        tests/benchmarks/test_bench_norm.py --benchmark-timer time.process_time
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
from collections.abc import Callable

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture
from torch import nn

from medganbench.core.model import ModelContext, TrainBatch
from medganbench.core.params import resolve_args
from medganbench.run.flops import PROBE_DATASET
from medganbench_plugins.nn.norms import SwitchableNorm2d
from tests.benchmarks.interleaved import time_interleaved
from tests.plugins.models.switchable_composite import (
    CompositeSwitchableNorm2d,
    use_composite_norms_in_model,
)

SIZE = 64
#: The activations a switchable norm sees in hlsnc's ResNet generator at 64 px, batch 1.
SHAPES = [(1, 64, 64, 64), (1, 128, 32, 32), (1, 256, 16, 16)]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
IMPLEMENTATIONS = ("composite", "function")

pytestmark = pytest.mark.skipif(
    os.environ.get("MEDGANBENCH_BENCH_SPEEDUP") != "1",
    reason="a minute long; set MEDGANBENCH_BENCH_SPEEDUP=1 to run",
)


def _compare(
    benchmark: BenchmarkFixture, calls: dict[str, Callable[[], None]], rounds: int
) -> None:
    measured = time_interleaved(benchmark, calls, rounds)
    medians = {name: statistics.median(values) for name, values in measured.items()}
    benchmark.extra_info["speedup"] = medians["composite"] / medians["function"]


@pytest.mark.parametrize("precision", list(DTYPES))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_bench_switchable_norm_layer(
    benchmark: BenchmarkFixture, shape: tuple[int, ...], precision: str
) -> None:
    """One benchmark round = 50 forward + backward passes of each implementation."""
    torch.manual_seed(0)
    norm = SwitchableNorm2d(shape[1]).train()
    modules: dict[str, nn.Module] = {
        "composite": CompositeSwitchableNorm2d(norm),
        "function": norm,
    }
    x = torch.randn(shape, dtype=DTYPES[precision], requires_grad=True)
    upstream = torch.randn(shape, dtype=DTYPES[precision])

    def passes(module: nn.Module) -> Callable[[], None]:
        def run() -> None:
            for _ in range(50):
                module(x).backward(upstream)

        return run

    benchmark.group = f"switchable-norm-layer-{precision}"
    _compare(benchmark, {name: passes(m) for name, m in modules.items()}, rounds=7)


def _hlsnc(registries, precision: str, composite: bool):  # type: ignore[no-untyped-def]
    spec = registries.models.get("hlsnc")
    info = dataclasses.replace(PROBE_DATASET, image_size=SIZE)
    torch.manual_seed(0)
    ctx = ModelContext(SIZE, info, torch.device("cpu"), 0, amp=precision == "bf16")
    model = spec.build(resolve_args(spec.params, {}, "hlsnc"), ctx)
    if composite:
        assert use_composite_norms_in_model(model) > 0
    model.train_mode()
    return model


@pytest.mark.parametrize("precision", list(DTYPES))
def test_bench_hlsnc_step_with_each_norm(
    benchmark: BenchmarkFixture, registries, precision: str
) -> None:
    """One benchmark round = one hlsnc training step with each implementation."""
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(1, 1, SIZE, SIZE, generator=gen) * 2 - 1
    b = torch.rand(1, 1, SIZE, SIZE, generator=gen) * 2 - 1
    batch = TrainBatch(a, b, a > -1, b > -1, True)
    models = {name: _hlsnc(registries, precision, name == "composite") for name in IMPLEMENTATIONS}
    losses: dict[str, float] = {}

    def step(model) -> Callable[[], None]:  # type: ignore[no-untyped-def]
        def run() -> None:
            losses.update({k: float(v) for k, v in model.train_step(batch).items()})

        return run

    benchmark.group = f"hlsnc-step-{SIZE}px-{precision}"
    _compare(benchmark, {name: step(m) for name, m in models.items()}, rounds=6)
    assert losses and all(math.isfinite(v) for v in losses.values())
