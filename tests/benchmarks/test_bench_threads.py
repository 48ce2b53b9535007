"""Thread policies for a CPU run on a shared machine (issue 30): the main job's training step
(``hlsnc`` at 64 px, its real ``train_step``) with 0, 1 and 2 competing CPU-bound processes.

Candidate policies, each a setting of torch's intra-op and inter-op threads and of OpenMP:

- ``cores``: one thread per physical core, torch's own default (the project's default before
  issue 30);
- ``free``: the cores minus those other processes keep busy, counted when the run starts (the
  kernel's runnable count, ``/proc/loadavg``), at least one: the runs' default since issue 30
  (:func:`medganbench.run.threads.free_cores`, which the worker calls);
- ``one``: one thread;
- ``passive``: one thread per core, with ``OMP_WAIT_POLICY=PASSIVE`` (idle OpenMP threads sleep
  instead of spinning).

OpenMP reads ``OMP_WAIT_POLICY`` once, when torch loads it, so every policy × load × precision
is measured in a fresh process (:mod:`tests.benchmarks.thread_worker`) that sets its threads,
runs a warm-up step and then times steps by wall clock. The competitors are single-threaded busy
loops (:mod:`tests.benchmarks.competitors`), started before the measurement and killed after
it. Interleaved: within one round every policy runs under each load in turn, and the policies'
order rotates from block to block, so all share the machine's drifting conditions. The machine
may carry other work too: each block records the load average. Figures: benchmarks/README.md.

The suite runs a cheap version (one competitor, fp32, narrow networks at 32 px, one step per
policy, the ``free`` and ``passive`` policies): it checks that a policy of each kind runs and
that the competitors are stopped. The matrix
(7 minutes a round on an idle 2-core machine, 25 on a busy one; 2 rounds, or
``MEDGANBENCH_BENCH_THREADS_ROUNDS=N``) runs with ``MEDGANBENCH_BENCH_THREADS=1``::

    MEDGANBENCH_BENCH_THREADS=1 python3 -m pytest -n 0 --benchmark-enable -s \\
        tests/benchmarks/test_bench_threads.py -k policies --benchmark-json threads.json

``test_bench_main_command_under_load`` times the main command itself (shortened to 20 steps)
idle and beside one competing two-thread process, with one thread per core (the default before
issue 30) and with today's default, interleaved; ``MEDGANBENCH_BENCH_THREADS_RUN=1`` runs it.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tests.benchmarks.competitors import competing

FULL = os.environ.get("MEDGANBENCH_BENCH_THREADS") == "1"
ROOT = Path(__file__).resolve().parents[2]

#: Policy → (``--threads`` of the worker, extra environment).
POLICIES: dict[str, tuple[str, dict[str, str]]] = {
    "cores": ("cores", {}),
    "free": ("free", {}),
    "one": ("1", {}),
    "passive": ("cores", {"OMP_WAIT_POLICY": "PASSIVE"}),
}
#: Variables that would override a policy if the caller's shell had them set.
CLEARED = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")

LOADS = (0, 1, 2) if FULL else (1,)
#: The policies measured; the suite's check runs one that sets threads and one that sets OpenMP's
#: environment (each is a fresh process of several seconds).
MEASURED = tuple(POLICIES) if FULL else ("free", "passive")
PRECISIONS = ("fp32", "bf16") if FULL else ("fp32",)
SIZE = 64 if FULL else 32
STEPS, WARMUP = (2, 1) if FULL else (1, 0)
#: Rounds of the full matrix and of the main command (``MEDGANBENCH_BENCH_THREADS_ROUNDS``).
FULL_ROUNDS = int(os.environ.get("MEDGANBENCH_BENCH_THREADS_ROUNDS", "2"))
ROUNDS = FULL_ROUNDS if FULL else 1


def run_worker(policy: str, precision: str) -> dict[str, object]:
    """One measurement in a fresh process: seconds per step and what the process saw."""
    threads, extra = POLICIES[policy]
    env = {k: v for k, v in os.environ.items() if k not in CLEARED} | extra
    command = [sys.executable, "-m", "tests.benchmarks.thread_worker", "--threads", threads]
    command += ["--precision", precision, "--size", str(SIZE)]
    command += ["--steps", str(STEPS), "--warmup", str(WARMUP)] + ([] if FULL else ["--tiny"])
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def rotated(names: list[str], by: int) -> list[str]:
    by %= len(names)
    return names[by:] + names[:by]


@pytest.mark.slow
def test_bench_thread_policies(benchmark: BenchmarkFixture) -> None:
    """Every policy under every load, interleaved; the median wall seconds per step of each
    go to ``extra_info`` and, as a markdown table, to stdout."""
    walls: dict[tuple[str, int, str], list[float]] = {}
    seen: list[dict[str, object]] = []
    block = [0]

    def one_round() -> None:
        for load in LOADS:
            with competing(load) as procs:
                for precision in PRECISIONS:
                    before = os.getloadavg()[0]
                    for policy in rotated(list(MEASURED), block[0]):
                        result = run_worker(policy, precision)
                        assert result["finite"], f"{policy}: a loss is not finite"
                        wall = float(result["wall_s"])  # type: ignore[arg-type]
                        walls.setdefault((policy, load, precision), []).append(wall)
                        seen.append(
                            dict(result, policy=policy, competitors=load, precision=precision)
                        )
                    block[0] += 1
                    print(
                        f"load {load} {precision}: load average {before:.1f} → "
                        f"{os.getloadavg()[0]:.1f}",
                        file=sys.stderr,
                    )
                assert all(proc.poll() is None for proc in procs), "a competitor stopped early"
            assert all(proc.poll() is not None for proc in procs), "a competitor is still running"

    benchmark.group = "thread-policies"
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    medians = {key: statistics.median(values) for key, values in walls.items()}
    assert all(math.isfinite(v) and v > 0 for v in medians.values())
    for (policy, load, precision), value in medians.items():
        benchmark.extra_info[f"{policy}_{precision}_{load}_competitors_s"] = value
    benchmark.extra_info["measurements"] = seen
    print(markdown_table(medians))


def markdown_table(medians: dict[tuple[str, int, str], float]) -> str:
    """Policies as rows; per precision, seconds per step under each load and the worst."""
    header = ["policy"]
    for precision in PRECISIONS:
        header += [f"{precision}, {n} competing" for n in LOADS] + [f"{precision}, worst"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for policy in MEASURED:
        cells = [f"`{policy}`"]
        for precision in PRECISIONS:
            values = [medians[(policy, n, precision)] for n in LOADS]
            cells += [f"{v:.2f} s" for v in values] + [f"{max(values):.2f} s"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The main command, shortened to 20 steps (its evaluation is the full one):
#: ``medganbench run --model hlsnc`` on ``phantom-brain`` at 64 px.
MAIN_COMMAND = ["run", "--model", "hlsnc", "--budget", "steps=20", "--no-progress"]
#: Whether the competitor runs in a session of its own (``MEDGANBENCH_BENCH_THREADS_SESSION``:
#: ``own``, the default, as another user's job; ``same``: in this one, as a CI script's job).
OWN_SESSION = os.environ.get("MEDGANBENCH_BENCH_THREADS_SESSION", "own") == "own"
#: Thread settings compared: today's default, and one thread per core (the default before).
MAIN_SETTINGS: dict[str, list[str]] = {"before": ["--threads", "cores"], "default": []}


@pytest.mark.skipif(
    os.environ.get("MEDGANBENCH_BENCH_THREADS_RUN") != "1",
    reason="tens of minutes; set MEDGANBENCH_BENCH_THREADS_RUN=1 to run",
)
def test_bench_main_command_under_load(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    """The main command (20 steps) idle and beside one competing two-thread process, with the
    thread default before issue 30 and today's, interleaved; wall seconds of each run, and the
    ratio loaded ÷ idle per setting, go to ``extra_info`` and stdout."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    cores = str(os.cpu_count() or 1)  # torch's default counts physical cores: the same here
    runs = [0]

    def main_command(setting: str) -> float:
        runs[0] += 1
        where = tmp_path / f"run-{runs[0]}"
        flags = [cores if f == "cores" else f for f in MAIN_SETTINGS[setting]]
        command = [sys.executable, "-m", "medganbench", *MAIN_COMMAND, *flags]
        command += ["--leaderboard-dir", str(where / "lb"), "--runs-dir", str(where / "runs")]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return time.perf_counter() - start

    main_command("default")  # generates the dataset's cache, which later runs reuse
    walls: dict[tuple[str, int], list[float]] = {}

    def one_round() -> None:
        for load in (0, 1):
            with competing(load, kind="matmul", own_session=OWN_SESSION):
                before = os.getloadavg()[0]
                for setting in rotated(list(MAIN_SETTINGS), runs[0]):
                    walls.setdefault((setting, load), []).append(main_command(setting))
                print(f"main command, {load} competing: load average {before:.1f}", file=sys.stderr)

    benchmark.group = "thread-policies-main-command"
    benchmark.pedantic(one_round, rounds=FULL_ROUNDS, iterations=1, warmup_rounds=0)
    for (setting, load), values in walls.items():
        benchmark.extra_info[f"{setting}_{load}_competing_s"] = values
    for setting in MAIN_SETTINGS:
        idle, loaded = (statistics.median(walls[(setting, n)]) for n in (0, 1))
        benchmark.extra_info[f"{setting}_loaded_over_idle"] = loaded / idle
        print(f"{setting}: idle {idle:.0f} s, loaded {loaded:.0f} s, × {loaded / idle:.2f}")
