"""Running sweeps end to end: every executor, idempotent re-runs, failures, and a killed sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.errors import UnknownNameError, UsageError
from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from medganbench.run.options import RunOptions
from medganbench.sweep.runner import make_executor, run_sweep
from medganbench.sweep.spec import expand_trials, parse_sweep

# Two non-learned models × two seeds: four real trials in about a second each.
TWO_BY_TWO = {
    "name": "two-by-two",
    "budget": "steps=2",
    "image_size": 32,
    "metrics": ["psnr", "mae"],
    "seeds": [0, 1],
    "datasets": ["phantom-brain"],
    "models": ["identity", "intensity-lookup"],
}
ROWS_PER_TRIAL = 2  # one direction × two metrics


def _rows_per_run(leaderboards: Path) -> Counter[str]:
    table = read_leaderboard(leaderboard_path(leaderboards, "phantom-brain"))
    return Counter(table.column("run_id").to_pylist())


def _sweep(tmp_path: Path, executor: str, args: dict, data: dict = TWO_BY_TWO):  # type: ignore[no-untyped-def]
    registries = build_registries(make_plugin_manager())
    sweep = parse_sweep(data, "two-by-two.toml")
    options = RunOptions(leaderboard_dir=tmp_path / "leaderboards", runs_dir=tmp_path / "runs")
    report = run_sweep(sweep, registries, make_executor(registries, executor, args), options)
    return sweep, expand_trials(sweep, registries), report


# The arguments each registered executor is exercised with; a new executor must add its own.
EXECUTOR_TEST_ARGS: dict[str, list[dict[str, object]]] = {
    "local": [{}, {"workers": 2}],
    "ray": [{"num_cpus": 2}],  # a Ray instance on this machine, as ray.init(num_cpus=2)
}
EXECUTORS = [
    pytest.param(
        name, args, id=f"{name}-{i}", marks=() if name == "local" and not args else pytest.mark.slow
    )
    for name, variants in EXECUTOR_TEST_ARGS.items()
    for i, args in enumerate(variants)
]


def test_every_registered_executor_is_exercised() -> None:
    registered = set(build_registries(make_plugin_manager()).executors.names())
    assert registered == set(EXECUTOR_TEST_ARGS)


@pytest.mark.parametrize(("executor", "args"), EXECUTORS)
def test_every_executor_lands_each_trial_once(tmp_path: Path, executor: str, args: dict) -> None:
    _, trials, report = _sweep(tmp_path, executor, args)
    assert report.count("ok") == 4 and report.count("failed") == 0
    assert _rows_per_run(tmp_path / "leaderboards") == {t.run_id: ROWS_PER_TRIAL for t in trials}
    for trial in trials:
        assert (tmp_path / "runs" / trial.run_id / "result.json").exists()
        assert (tmp_path / "runs" / trial.run_id / "samples.png").exists()


def test_running_a_finished_sweep_again_skips_everything(tmp_path: Path) -> None:
    _sweep(tmp_path, "local", {})
    board = leaderboard_path(tmp_path / "leaderboards", "phantom-brain")
    before = board.read_bytes()
    _, _, again = _sweep(tmp_path, "local", {})
    assert again.count("skipped") == 4 and again.count("ok") == 0
    assert board.read_bytes() == before


def test_a_failed_trial_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    data = {
        **TWO_BY_TWO,
        "seeds": [0],
        "models": ["identity"],
        "datasets": [
            "phantom-brain",
            {"name": "paired-folder", "args": {"root": str(tmp_path / "absent")}},
        ],
    }
    sweep, trials, report = _sweep(tmp_path, "local", {}, data)
    ok, failed = trials
    assert report.status == {ok.run_id: "ok", failed.run_id: "failed"}
    assert "absent" in (report.outcomes[failed.run_id].error or "")
    record = json.loads((tmp_path / "runs" / "sweeps" / f"{sweep.name}.json").read_text())
    by_id = {entry["run_id"]: entry for entry in record["trials"]}
    assert by_id[failed.run_id]["status"] == "failed" and "absent" in by_id[failed.run_id]["error"]
    assert by_id[ok.run_id]["status"] == "ok" and record["counts"]["failed"] == 1
    assert _rows_per_run(tmp_path / "leaderboards") == {ok.run_id: ROWS_PER_TRIAL}


def test_unknown_executor_suggests_the_close_name() -> None:
    with pytest.raises(UnknownNameError, match="local"):
        make_executor(build_registries(make_plugin_manager()), "locale", {})


def test_ray_missing_is_one_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray looks like
    with pytest.raises(UsageError, match=r"medganbench\[ray\]"):
        _sweep(tmp_path, "ray", {})


SLOW_TRIALS = """
name = "killed"
budget = "steps=6"
image_size = 32
metrics = ["psnr", "mae"]
seeds = [0, 1]
datasets = ["phantom-brain"]

[[models]]
name = "hlsnc"
args = { ngf = 8, ndf = 8, n_blocks = 1, eval_both = false, eval_cycle = false }

[[models]]
name = "pix2pix"
args = { ngf = 8, ndf = 8 }
"""


@pytest.mark.slow
def test_a_killed_sweep_finishes_only_the_missing_trials(tmp_path: Path) -> None:
    (tmp_path / "killed.toml").write_text(SLOW_TRIALS)
    command = [
        sys.executable,
        "-m",
        "medganbench",
        "sweep",
        "killed.toml",
        "--no-progress",
        "--checkpoint-every",
        "1",
    ]
    proc = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    board = leaderboard_path(tmp_path / "leaderboards", "phantom-brain")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not board.exists():
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed mid-way"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded_before = set(_rows_per_run(tmp_path / "leaderboards"))
    assert 1 <= len(recorded_before) < 4

    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    rows = _rows_per_run(tmp_path / "leaderboards")
    assert len(rows) == 4 and set(rows.values()) == {ROWS_PER_TRIAL}
    record = json.loads((tmp_path / "runs" / "sweeps" / "killed.json").read_text())
    statuses = {entry["run_id"]: entry["status"] for entry in record["trials"]}
    assert {rid for rid, status in statuses.items() if status == "skipped"} == recorded_before
    assert {rid for rid, status in statuses.items() if status == "ok"} == set(
        rows
    ) - recorded_before
