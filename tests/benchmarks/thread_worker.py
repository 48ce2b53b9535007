"""One measurement of ``test_bench_threads.py``, in a process of its own.

``python -m tests.benchmarks.thread_worker --threads T --precision P --steps K --warmup W``
builds ``hlsnc`` at the paper's defaults (as ``test_bench_models.py`` does), sets torch's
intra-op and inter-op threads as T says (a number; ``cores``: torch's own default, one per
physical core; ``free``: the cores minus the busy ones, the runs' default, see
:func:`medganbench.run.threads.free_cores`), runs W warm-up steps and K timed ones of the
model's real ``train_step`` and prints one JSON line: wall and CPU seconds per timed step, the threads used,
and the load average seen at start. The caller sets the environment (``OMP_WAIT_POLICY``),
which OpenMP reads once, when torch loads it: that is why every policy × load runs here, in a
fresh process, rather than in the benchmark's own.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import time

import torch

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.model import ModelContext, TrainBatch
from medganbench.core.params import resolve_args
from medganbench.run.flops import PROBE_DATASET
from medganbench.run.threads import free_cores

MODEL = "hlsnc"


def resolve_threads(setting: str) -> int:
    """The thread count a ``--threads`` value means in this process."""
    cores = torch.get_num_threads()  # torch's default: one thread per physical core
    if setting == "cores":
        return cores
    if setting == "free":
        return free_cores(cores)  # the run's default policy
    return int(setting)


#: ``--tiny``: narrow networks, for a quick check of the benchmark itself.
TINY_ARGS = {"ngf": "4", "ndf": "4", "n_blocks": "1"}


def measure(
    threads: int, amp: bool, size: int, steps: int, warmup: int, tiny: bool = False
) -> dict[str, object]:
    """Seconds per step of ``hlsnc``'s real training step with ``threads`` torch threads."""
    load = os.getloadavg()[0]
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    spec = build_registries(make_plugin_manager(autoload=False)).models.get(MODEL)
    info = dataclasses.replace(PROBE_DATASET, image_size=size)
    torch.manual_seed(0)
    ctx = ModelContext(size, info, torch.device("cpu"), 0, amp=amp)
    model = spec.build(resolve_args(spec.params, TINY_ARGS if tiny else {}, MODEL), ctx)
    gen = torch.Generator().manual_seed(0)
    n = model.batch_size
    a = torch.rand(n, 1, size, size, generator=gen) * 2 - 1
    b = torch.rand(n, 1, size, size, generator=gen) * 2 - 1
    batch = TrainBatch(a, b, a > -1, b > -1, True)
    model.train_mode()
    for _ in range(warmup):
        model.train_step(batch)
    walls: list[float] = []
    cpus: list[float] = []
    losses: dict[str, float] = {}
    for _ in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        losses = {k: float(v) for k, v in model.train_step(batch).items()}  # reads the losses
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "wall_s": statistics.median(walls),
        "walls": walls,
        "cpu_s": statistics.median(cpus),
        "threads": torch.get_num_threads(),
        "load": load,
        "finite": bool(losses) and all(math.isfinite(v) for v in losses.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", required=True, help="a number, cores or free")
    parser.add_argument("--precision", choices=("fp32", "bf16"), required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--tiny", action="store_true", help="narrow networks (a quick check)")
    args = parser.parse_args()
    threads, amp = resolve_threads(args.threads), args.precision == "bf16"
    result = measure(threads, amp, args.size, args.steps, args.warmup, args.tiny)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
