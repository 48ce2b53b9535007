"""The run's CPU threads: ``--threads``, else ``OMP_NUM_THREADS``, else the cores left free at
its start on a CPU; set for the run only, recorded in the rows' device, never in the run id."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from medganbench.errors import UsageError
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run import threads as threads_module
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench.run.threads import (
    CORES,
    THREADS_ENV,
    busy_cpus,
    free_cores,
    run_threads,
    threads_for_run,
)
from tests.folders import DEFAULT_BOARDS

CPU, GPU = torch.device("cpu"), torch.device("cuda")
SMALL = {
    "train_subjects": "3",
    "val_subjects": "2",
    "test_subjects": "2",
    "slices_per_subject": "2",
}


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)


def _runnable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, running: int) -> None:
    """Make :func:`busy_cpus` read ``running`` runnable threads (this one among them)."""
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"0.50 0.40 0.30 {running}/321 4567\n", encoding="ascii")
    monkeypatch.setattr(threads_module, "LOADAVG", loadavg)
    monkeypatch.setattr(threads_module, "BUSY_GAP_S", 0.0)


@pytest.mark.parametrize(("running", "busy"), [(1, 0), (2, 1), (4, 3), (0, 0)])
def test_busy_cpus_are_the_runnable_threads_but_this_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, running: int, busy: int
) -> None:
    _runnable(monkeypatch, tmp_path, running)
    assert busy_cpus() == busy


def test_the_default_is_the_free_cores_and_at_least_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_env: None
) -> None:
    _runnable(monkeypatch, tmp_path, 1)  # nothing else runs
    assert run_threads(None, CPU) == free_cores() == CORES
    assert free_cores(8) == 8
    _runnable(monkeypatch, tmp_path, 4)  # three other threads want a CPU
    assert free_cores(8) == 5 and free_cores(2) == 1
    assert run_threads(None, CPU) == max(1, CORES - 3)


def test_a_gpu_run_keeps_torchs_threads(no_env: None) -> None:
    assert run_threads(None, GPU) is None


def test_requested_threads_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "3")
    assert run_threads(None, CPU) == 3 and run_threads(None, GPU) == 3
    assert run_threads(2, CPU) == 2


@pytest.mark.parametrize("value", ["", "0", "two", "-1"])
def test_an_unusable_environment_value_falls_back_to_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv(THREADS_ENV, value)
    _runnable(monkeypatch, tmp_path, 1)
    assert run_threads(None, CPU) == CORES


def test_openmp_lists_give_their_first_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "2,1")
    assert run_threads(None, CPU) == 2


def test_fewer_than_one_thread_is_refused() -> None:
    with pytest.raises(UsageError, match="--threads 0"):
        run_threads(0, CPU)


def test_threads_are_set_for_the_block_and_restored(no_env: None) -> None:
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with threads_for_run(other, CPU) as threads:
        assert threads == torch.get_num_threads() == other
    assert torch.get_num_threads() == before


def _spec(**changes: object) -> RunSpec:
    spec = RunSpec(model="identity", dataset_args=SMALL, image_size=32, budget=Budget(steps=2))
    return dataclasses.replace(spec, **changes)


def test_the_row_records_the_threads_and_the_run_id_ignores_them(
    registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None
) -> None:
    _runnable(monkeypatch, tmp_path, 9)  # a busy machine: the default is one thread
    before = torch.get_num_threads()
    devices, run_ids = [], []
    for threads in (None, 2):
        options = RunOptions(
            leaderboard_dir=tmp_path / f"boards-{threads}",
            runs_dir=tmp_path / f"runs-{threads}",
            progress=False,
            threads=threads,
        )
        result = execute_run(_spec(), registries, options)
        devices.append(read_leaderboard(result.leaderboard).to_pylist()[0]["device"])
        run_ids.append(result.run_id)
    assert "; 1 threads; " in devices[0] and "; 2 threads; " in devices[1]
    assert run_ids[0] == run_ids[1]
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_cli_run_takes_threads_and_refuses_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != THREADS_ENV}
    small = ["--image-size", "32", "--dataset-arg", ",".join(f"{k}={v}" for k, v in SMALL.items())]
    command = [sys.executable, "-m", "medganbench", "run", "--model", "identity", "--no-progress"]
    command += ["--budget", "steps=1", *small]
    ok = subprocess.run(
        [*command, "--threads", "2"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    row = read_leaderboard(tmp_path / DEFAULT_BOARDS / "phantom-brain.arrow").to_pylist()[0]
    assert "; 2 threads; " in row["device"]
    bad = subprocess.run(
        [*command, "--threads", "0"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--threads" in bad.stderr
