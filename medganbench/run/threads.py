"""How many CPU threads torch computes with during a run: ``--threads``, else the default policy.

The default on a CPU is :func:`free_cores`: one thread per physical core, less the cores other
processes keep busy when the run starts, at least one. Measured (issue 30,
``tests/benchmarks/test_bench_threads.py``, figures in ``benchmarks/README.md``) as the policy
whose worst case with 0, 1 or 2 competing processes is best while its speed on an idle machine
stays within 10 % of one thread per core, torch's own default: on an idle 2-core machine it is
that default; beside busy processes it is one thread, which does not spin against them. Threads
that wait for each other spin on the cores other jobs need, and oneDNN's multi-threaded bf16
weight-gradient kernels stall outright when they share cores. The count is taken once, at the
start: load that arrives later meets the threads chosen then (``--threads 1`` is the setting
for a machine whose other jobs come and go).

The thread count is a run option, not part of the run id. It could change a trained model's
last digits (a kernel may split a reduction by it; measured: ``hlsnc``'s weights and values came
out the same bit for bit with 1 and 2 threads on an AMD EPYC), so like the CPU model it is in
the row's ``device`` column (:func:`~medganbench.run.device.device_name`, ``×1`` in tables).
Rows of one run id made with other thread counts are replicates.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import torch

from medganbench.errors import UsageError

#: OpenMP's variable for the thread count; set, it is honoured as the user's choice.
THREADS_ENV = "OMP_NUM_THREADS"

#: One thread per physical core: torch's own default, as it counted them when it loaded.
CORES = torch.get_num_threads() if THREADS_ENV not in os.environ else (os.cpu_count() or 1)

#: Where Linux counts the runnable threads (fourth field: ``running/total``).
LOADAVG = Path("/proc/loadavg")
#: Readings of the runnable count :func:`busy_cpus` takes, and the seconds between them.
BUSY_SAMPLES, BUSY_GAP_S = 5, 0.02


def env_threads() -> int | None:
    """The thread count :data:`THREADS_ENV` asks for, if it is set to a positive integer
    (OpenMP's lists such as ``"4,2"`` give their first entry)."""
    first = os.environ.get(THREADS_ENV, "").split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else None


def busy_cpus() -> int:
    """How many CPUs other processes keep busy now: the median of :data:`BUSY_SAMPLES`
    readings of the kernel's runnable count (:data:`LOADAVG`) less the thread reading it;
    where there is no such file, the one-minute load average."""
    counts: list[int] = []
    for i in range(BUSY_SAMPLES):
        try:
            field = LOADAVG.read_text(encoding="ascii").split()[3]
        except (OSError, IndexError):
            return round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
        counts.append(int(field.split("/")[0]) - 1)
        if i + 1 < BUSY_SAMPLES:
            time.sleep(BUSY_GAP_S)
    return max(0, round(statistics.median(counts)))


def free_cores(cores: int = CORES) -> int:
    """The default thread count of a CPU run: ``cores`` less :func:`busy_cpus`, at least one."""
    return max(1, cores - busy_cpus())


def run_threads(requested: int | None, device: torch.device) -> int | None:
    """The torch threads a run on ``device`` computes with.

    ``requested`` (``--threads``) wins; else :data:`THREADS_ENV`; else, on a CPU,
    :func:`free_cores`. ``None``: leave torch's setting as it is (a GPU run with neither; its
    arithmetic is on the GPU).

    Raises:
        UsageError: ``requested`` is below 1.
    """
    if requested is not None:
        if requested < 1:
            raise UsageError(f"--threads {requested}: give at least 1 thread.")
        return requested
    from_env = env_threads()
    if from_env is not None:
        return from_env
    return free_cores() if device.type == "cpu" else None


@contextmanager
def threads_for_run(requested: int | None, device: torch.device) -> Iterator[int]:
    """Compute with :func:`run_threads`' count for the duration of the block, then restore the
    process's intra-op thread count; yields the count in force.

    The inter-op pool is set too where torch still allows it (once per process, before any
    inter-op work); the runs' models do no inter-op work, so it is not restored.

    Raises:
        UsageError: see :func:`run_threads`.
    """
    threads = run_threads(requested, device)
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    if threads is not None and threads != torch.get_num_interop_threads():
        # Refused once the pool has started or was set already: then it stays as it is.
        with suppress(RuntimeError):
            torch.set_num_interop_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
