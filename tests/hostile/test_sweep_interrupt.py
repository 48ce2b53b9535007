"""A sweep driver with worker processes stops when it is told to, and takes its workers along.

Before: ``kill -INT <driver>`` (what a job manager sends: to the driver alone, not to its process
group) with ``--workers 2`` did not end the sweep within 60 s, because the driver waited for the
running trials to finish their budgets; and after SIGKILL of the driver, its two workers and the
pool's manager process kept running, orphaned. Now SIGINT interrupts the running trials (their
checkpoints stay for the next run of the sweep) and the driver exits 130 within seconds; and the
workers and the manager end with the driver, however it ends.

Both tests wait for a positive sign that both trials train (each has a checkpoint), however long
a loaded machine takes to get there, and then allow generous but bounded times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile.conftest import TINY_DATA

#: How long a loaded machine may take to start the workers and reach training.
REACH_S = 600
#: How long the driver may take to exit after SIGINT (a few seconds when idle).
EXIT_S = 60
#: How long the workers may outlive a killed driver (about a second when idle).
ORPHAN_S = 30


def _start(work: Path) -> subprocess.Popen[str]:
    args = ", ".join(f"{k} = {v}" for k, v in (p.split("=") for p in TINY_DATA.split(",")))
    (work / "s.toml").write_text(
        'name = "long"\nbudget = "seconds=600"\nimage_size = 32\nmetrics = ["psnr"]\n'
        f'seeds = [0, 1]\ndatasets = [{{ name = "phantom-brain", args = {{ {args} }} }}]\n'
        'models = ["intensity-lookup"]\n'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "medganbench", "sweep", "s.toml", "--workers", "2",
         "--checkpoint-every", "1", "--no-progress"],
        cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ.copy(), start_new_session=True,  # no signal of ours reaches it by group
    )  # fmt: skip


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a process, or ``None`` if there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every live descendant of ``root``: pid → start time (to tell a reused pid apart)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[0], []).append(int(entry))
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if (stat := _stat(child)) is not None and stat[1] != "Z":
                found[child] = stat[2]
                todo.append(child)
    return found


def _alive(processes: dict[int, str]) -> list[int]:
    return [
        pid
        for pid, started in processes.items()
        if (stat := _stat(pid)) is not None and stat[2] == started and stat[1] != "Z"
    ]


def _wait_until_both_train(proc: subprocess.Popen[str], work: Path) -> dict[int, str]:
    deadline = time.monotonic() + REACH_S
    while len(list((work / "runs").glob("*/checkpoint.pt"))) < 2:
        if proc.poll() is not None:
            pytest.fail(
                f"the sweep ended before both trials trained: {proc.communicate()[1][-2000:]}"
            )
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the two trials did not reach training within {REACH_S} s")
        time.sleep(0.2)
    processes = _descendants(proc.pid)
    assert len(processes) >= 3, processes  # two workers and the manager, at least
    return processes


def _wait_gone(processes: dict[int, str], within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (left := _alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_sigint_to_the_driver_alone_ends_the_sweep_and_its_workers(work: Path) -> None:
    proc = _start(work)
    processes = _wait_until_both_train(proc, work)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)  # to the driver only, as `kill -INT <pid>` does
    try:
        _, stderr = proc.communicate(timeout=EXIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the driver did not exit within {EXIT_S} s of SIGINT")
    took = time.monotonic() - sent
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr[-2000:]
    left = _wait_gone(processes, 10)
    assert not left, f"still running {took:.1f} s after SIGINT: {left}"
    # The trials' checkpoints stay, for the next run of the sweep to resume from.
    assert len(list((work / "runs").glob("*/checkpoint.pt"))) == 2
    assert not (work / "leaderboards").exists()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_the_workers_end_with_a_killed_driver(work: Path) -> None:
    proc = _start(work)
    processes = _wait_until_both_train(proc, work)
    proc.kill()  # SIGKILL: the driver cannot clean up after itself
    proc.communicate(timeout=EXIT_S)
    left = _wait_gone(processes, ORPHAN_S)
    if left:
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert not left, f"orphaned {ORPHAN_S} s after the driver was killed: {left}"
