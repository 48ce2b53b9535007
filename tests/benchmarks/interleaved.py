"""Side-by-side timing: several implementations of one thing, one call each per round.

Interleaving makes ratios robust to a machine whose load drifts: every implementation shares
the same conditions in every round. pytest-benchmark times the rounds; this module keeps each
call's own CPU time (``time.process_time``, all torch threads summed).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

from pytest_benchmark.fixture import BenchmarkFixture


def time_interleaved(
    benchmark: BenchmarkFixture, calls: Mapping[str, Callable[[], None]], rounds: int
) -> dict[str, list[float]]:
    """Run one warm-up round and ``rounds`` timed ones, each calling every call once in order.

    Returns:
        Each call's CPU seconds per timed round. With ``--benchmark-disable`` only the warm-up
        round runs, and its times are returned instead.

    Records each call's median and minimum in ``benchmark.extra_info`` (``<name>_median_s``,
    ``<name>_min_s``).
    """
    times: dict[str, list[float]] = {name: [] for name in calls}

    def one_round() -> None:
        for name, call in calls.items():
            start = time.process_time()
            call()
            times[name].append(time.process_time() - start)

    benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=1)
    measured = {name: t[1:] or t for name, t in times.items()}
    for name, values in measured.items():
        benchmark.extra_info[f"{name}_median_s"] = statistics.median(values)
        benchmark.extra_info[f"{name}_min_s"] = min(values)
    return measured
