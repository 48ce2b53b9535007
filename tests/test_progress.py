"""Progress of long phases (issue 30, point 5): reported by the work, shown by the runner — a bar
on a terminal, a heartbeat line at least every 30 s otherwise, even while one unit is slow."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from medganbench import progress
from medganbench.run.progress import BarSink, HeartbeatSink, sink_for

TINY = ["--image-size", "32", "--budget", "steps=2", "--dataset-arg",
        "train_subjects=2,val_subjects=2,test_subjects=2,slices_per_subject=2"]  # fmt: skip


def _console() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, force_terminal=False, width=200), text


def test_without_a_sink_phases_are_silent_and_still_count() -> None:
    assert not progress.installed()
    with progress.phase("work", total=3, unit="items") as shown:
        shown.advance(2, detail="half")
    assert shown.done == 2 and shown.describe().startswith("work: 2/3 items (67%), half, ")


def test_the_heartbeat_speaks_while_one_unit_is_slow() -> None:
    console, text = _console()
    sink = HeartbeatSink(console, interval=0.2)
    with sink, progress.showing(sink), progress.phase("sampling", total=1, unit="steps") as shown:
        time.sleep(0.9)  # one slow unit: no advance for four intervals
        shown.advance()
    lines = text.getvalue().splitlines()
    assert lines[0] == "sampling: started"
    beats = [line for line in lines if line.startswith("sampling: 0/1 steps")]
    assert len(beats) >= 3
    assert lines[-1].startswith("sampling: done, 1/1 steps (100%)")


def test_the_bar_shows_phases_and_leaves_a_done_line() -> None:
    console, text = _console()
    sink = BarSink(console)
    with sink, progress.showing(sink), progress.phase("evaluating a2b", total=2) as shown:
        shown.advance()
        shown.advance()
    assert "evaluating a2b: done, 2/2 (100%)" in text.getvalue()


def test_a_terminal_gets_the_bar_and_a_log_the_heartbeat() -> None:
    console, _ = _console()
    assert isinstance(sink_for(console, bar=True), HeartbeatSink)  # not a terminal
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(sink_for(terminal, bar=True), BarSink)
    assert isinstance(sink_for(terminal, bar=False), HeartbeatSink)


@pytest.mark.slow
def test_a_run_without_progress_bars_reports_each_phase(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "medganbench", "run", "--model", "identity", *TINY, "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for phase in ("training (steps=2)", "evaluating a2b (psnr, ssim, mae)", "scoring 2 patient"):
        assert f"{phase}" in done.stderr
    assert "training (steps=2): done, 2/2 steps (100%)" in done.stderr
