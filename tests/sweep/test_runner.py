"""Running sweeps end to end: every executor, idempotent re-runs, failures, and a killed sweep."""

from __future__ import annotations

import dataclasses
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
from medganbench.sweep.executor import Executor, TrialEvent, TrialOutcome
from medganbench.sweep.runner import SweepObserver, make_executor, run_sweep
from medganbench.sweep.spec import expand_trials, parse_sweep
from medganbench.sweep.trial import run_trial
from tests.folders import DEFAULT_BOARDS

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
ROWS_PER_TRIAL = 4  # one direction × two metrics, per slice and per patient (eval_unit "volume")


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


@pytest.mark.slow
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
    board = leaderboard_path(tmp_path / DEFAULT_BOARDS, "phantom-brain")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not board.exists():
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed mid-way"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded_before = set(_rows_per_run(tmp_path / DEFAULT_BOARDS))
    assert 1 <= len(recorded_before) < 4

    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    rows = _rows_per_run(tmp_path / DEFAULT_BOARDS)
    assert len(rows) == 4 and set(rows.values()) == {ROWS_PER_TRIAL}
    record = json.loads((tmp_path / "runs" / "sweeps" / "killed.json").read_text())
    statuses = {entry["run_id"]: entry["status"] for entry in record["trials"]}
    assert {rid for rid, status in statuses.items() if status == "skipped"} == recorded_before
    assert {rid for rid, status in statuses.items() if status == "ok"} == set(
        rows
    ) - recorded_before


class _Recorder(SweepObserver):
    """What the sweep told its display, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def event(self, event: TrialEvent) -> None:
        self.calls.append(("event", event.run_id, event.kind))

    def finished(self, outcome: TrialOutcome) -> None:
        self.calls.append(("finished", outcome.run_id, outcome.status))


class _LateTalker(Executor):
    """Runs each trial for real, then sends what a slow network delivers late: an event and a
    second outcome of the finished trial."""

    def execute(self, requests, on_event, on_outcome):  # type: ignore[no-untyped-def]
        for request in requests:
            outcome = run_trial(request, on_event)
            on_outcome(outcome)
            run_id = request.trial.run_id
            on_event(TrialEvent(run_id, "progress", 1, 0.5, "elsewhere"))
            on_outcome(TrialOutcome(run_id, "failed", "a stale copy"))


class _Elsewhere(Executor):
    """Runs each trial for real in a runs folder of its own, as a machine without the driver's
    storage does."""

    def __init__(self, args: dict, worker_runs: Path) -> None:  # type: ignore[type-arg]
        super().__init__(args)
        self.worker_runs = worker_runs

    def execute(self, requests, on_event, on_outcome):  # type: ignore[no-untyped-def]
        for request in requests:
            options = dataclasses.replace(request.options, runs_dir=self.worker_runs)
            on_outcome(run_trial(dataclasses.replace(request, options=options), on_event))


class _Loser(Executor):
    """Hears each trial start, then loses it without a word on where or how long."""

    def execute(self, requests, on_event, on_outcome):  # type: ignore[no-untyped-def]
        for request in requests:
            on_event(TrialEvent(request.trial.run_id, "started", host="node-7"))
            time.sleep(0.2)
            on_outcome(TrialOutcome(request.trial.run_id, "failed", "its node was lost"))


class _Unreachable(Executor):
    def open(self) -> None:
        raise UsageError("Could not reach the cluster at 'nowhere:1'.")

    def execute(self, requests, on_event, on_outcome):  # type: ignore[no-untyped-def]
        raise AssertionError("a sweep must not execute on an executor that did not open")


ONE_TRIAL = {**TWO_BY_TWO, "seeds": [0], "models": ["identity"]}


def _run(tmp_path: Path, executor: Executor, observer: SweepObserver | None = None):  # type: ignore[no-untyped-def]
    registries = build_registries(make_plugin_manager())
    sweep = parse_sweep(ONE_TRIAL, "one.toml")
    options = RunOptions(leaderboard_dir=tmp_path / "leaderboards", runs_dir=tmp_path / "runs")
    return run_sweep(sweep, registries, executor, options, observer)


def test_late_messages_never_change_a_finished_trial(tmp_path: Path) -> None:
    recorder = _Recorder()
    report = _run(tmp_path, _LateTalker({}), recorder)
    (run_id,) = report.status
    assert report.status[run_id] == "ok" and report.outcomes[run_id].error is None
    assert recorder.calls[-1] == ("finished", run_id, "ok")
    assert _rows_per_run(tmp_path / "leaderboards") == {run_id: ROWS_PER_TRIAL}


def test_a_trial_on_another_machine_hands_its_generator_back_to_the_driver(
    tmp_path: Path,
) -> None:
    report = _run(tmp_path, _Elsewhere({}, tmp_path / "worker-runs"))
    (run_id,) = report.status
    worker, driver = tmp_path / "worker-runs" / run_id, tmp_path / "runs" / run_id
    for name in ("generator.json", "generator.safetensors", "result.json"):
        assert (driver / name).read_bytes() == (worker / name).read_bytes()


def test_a_lost_trial_is_recorded_with_the_host_and_time_it_ran(tmp_path: Path) -> None:
    report = _run(tmp_path, _Loser({}))
    (outcome,) = report.outcomes.values()
    assert outcome.host == "node-7" and outcome.seconds >= 0.2
    record = json.loads((tmp_path / "runs" / "sweeps" / "two-by-two.json").read_text())
    (entry,) = record["trials"]
    assert entry["host"] == "node-7" and entry["seconds"] >= 0.2
    assert entry["error"] == "its node was lost"


def test_nothing_is_written_when_the_executor_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nowhere"):
        _run(tmp_path, _Unreachable({}))
    assert not (tmp_path / "runs").exists() and not (tmp_path / "leaderboards").exists()


def test_workers_get_absolute_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[RunOptions] = []

    class Spy(Executor):
        def execute(self, requests, on_event, on_outcome):  # type: ignore[no-untyped-def]
            seen.extend(request.options for request in requests)
            for request in requests:
                on_outcome(run_trial(request, on_event))

    monkeypatch.chdir(tmp_path)
    registries = build_registries(make_plugin_manager())
    sweep = parse_sweep(ONE_TRIAL, "one.toml")
    run_sweep(sweep, registries, Spy({}), RunOptions(runs_dir=Path("runs")))
    (options,) = seen
    assert options.runs_dir == tmp_path / "runs" and options.leaderboard_dir.is_absolute()
