"""One run on two processes (gloo on CPU), as torchrun and ``run --devices 2`` start it.

The real thing, end to end: ``torchrun --nproc_per_node 2 -m medganbench run --model cyclegan``
writes one set of rows with world size 2; its losses equal those of the same global batch on
one process within rounding over the first 5 steps; a run whose process 1 is killed with
SIGKILL stops with one message and no row, and ``--resume`` on two processes ends with the very
rows and losses of the uninterrupted run; another number of devices is refused.

CycleGAN takes one image per device (``batch_scaling = "per-device"``), so two devices with
``batch_size=1`` see the global batch of one device with ``batch_size=2``. The learning rate is
small and the precision fp32 so that 5 steps stay in the regime where rounding stays rounding:
at CycleGAN's default rate, Adam turns the last-digit differences of any change of summation
order (two threads instead of one on *one* device, measured) into visible ones within 5 steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow.ipc as ipc
import pytest
import torch

from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.checkpoint import CHECKPOINT_NAME

pytestmark = pytest.mark.slow

#: The run of every test here; two devices unless the command says otherwise.
RUN_ARGS = (
    "--model=cyclegan",
    "--image-size=32",
    "--budget=steps=8",
    "--checkpoint-every=2",
    "--precision=fp32",
    "--metrics=psnr",
    "--log-every=1",
    "--no-progress",
    "--model-arg=ngf=8",
    "--model-arg=ndf=8",
    "--model-arg=n_blocks=1",
    "--model-arg=lr=1e-5",
    "--model-arg=eval_both=false",
    "--model-arg=eval_cycle=false",
)


@dataclass(frozen=True)
class Runs:
    """The runs of this module, each in a folder of its own."""

    torchrun: Path  # torchrun --nproc_per_node 2 -m medganbench run (uninterrupted)
    single: Path  # the same global batch on one process
    killed: Path  # run --devices 2, process 1 killed after a checkpoint, then --resume
    killed_exit: subprocess.CompletedProcess[str]
    resumed: subprocess.CompletedProcess[str]
    env: dict[str, str]


def _losses(folder: Path) -> dict[int, dict[str, float]]:
    """Every step's losses in the history of the one run in ``folder``."""
    (path,) = (folder / "runs").glob("*/history.arrow")
    steps: dict[int, dict[str, float]] = defaultdict(dict)
    for record in ipc.open_file(path).read_all().to_pylist():
        if record["kind"] == "loss":
            steps[record["step"]][f"{record['direction']}/{record['name']}"] = record["value"]
    return dict(steps)


def _rows(folder: Path) -> list[dict[str, object]]:
    (board,) = (folder / "leaderboard").glob("*.arrow")
    return read_leaderboard(board).to_pylist()


def _process_of_rank(rank: int, cwd: Path) -> int | None:
    """The pid of the worker with ``RANK=rank`` started in ``cwd`` (read from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            here = Path(os.readlink(entry / "cwd")) == cwd
        except OSError:
            continue
        if here and f"RANK={rank}".encode() in environ and b"LOCAL_RANK=1" in environ:
            return int(entry.name)
    return None


def _checkpoint_step(folder: Path) -> int:
    for path in (folder / "runs").glob(f"*/{CHECKPOINT_NAME}"):
        try:
            return int(torch.load(path, map_location="cpu", weights_only=True)["ledger"]["steps"])
        except (EOFError, RuntimeError, OSError):
            return 0
    return 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",  # the same summation order in every run here
        "MEDGANBENCH_HOME": str(tmp_path_factory.getbasetemp() / "home"),
        "MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    folders = ["--runs-dir=runs", "--leaderboard-dir=leaderboard", "--device=cpu"]
    torchrun, single, killed = (tmp_path_factory.mktemp(n) for n in ("torchrun", "one", "killed"))
    # torchrun as a user types it; --monitor-interval 0.1 notices the workers end at once.
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--monitor-interval=0.1",
    ]
    subprocess.run(
        [*launcher, "--nproc_per_node=2", "-m", "medganbench", "run", *RUN_ARGS, *folders],
        cwd=torchrun,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "medganbench",
            "run",
            *RUN_ARGS,
            "--model-arg=batch_size=2",
            *folders,
        ],
        cwd=single,
        env=env,
        check=True,
        capture_output=True,
    )
    command = [sys.executable, "-m", "medganbench", "run", *RUN_ARGS, *folders, "--devices=2"]
    proc = subprocess.Popen(
        command, cwd=killed, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and _checkpoint_step(killed) < 2:
        time.sleep(0.02)
    worker = _process_of_rank(1, killed)
    assert proc.poll() is None and worker is not None, "the run ended before it could be killed"
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    killed_exit = subprocess.CompletedProcess(command, proc.returncode, out, err)
    (run_dir,) = (killed / "runs").iterdir()
    resumed = subprocess.run(
        [
            sys.executable,
            *("-m", "medganbench", "run", f"--resume=runs/{run_dir.name}", "--devices=2"),
            *("--leaderboard-dir=leaderboard", "--device=cpu", "--no-progress", "--log-every=1"),
        ],
        cwd=killed,
        env=env,
        capture_output=True,
        text=True,
    )
    return Runs(torchrun, single, killed, killed_exit, resumed, env)


def test_torchrun_writes_one_set_of_rows_with_world_size_two(runs: Runs) -> None:
    rows = _rows(runs.torchrun)
    assert len({r["run_id"] for r in rows}) == 1
    assert sorted((r["direction"], r["eval_unit"]) for r in rows) == [
        ("a2b", "slice"),
        ("a2b", "volume"),
    ]
    for row in rows:
        assert (row["world_size"], row["per_device_batch"], row["global_batch"]) == (2, 1, 2)
        assert row["device_seconds"] == pytest.approx(2 * row["train_seconds"])
        assert (row["steps_done"], row["kimg_done"]) == (8, pytest.approx(0.016))


def test_two_processes_repeat_one_process_within_rounding_over_five_steps(runs: Runs) -> None:
    two, one = _losses(runs.torchrun), _losses(runs.single)
    for step in range(1, 6):
        assert two[step].keys() == one[step].keys()
        for name, value in one[step].items():
            assert two[step][name] == pytest.approx(value, rel=1e-3, abs=1e-5), (step, name)
    # Not trivially equal: the two runs are different processes with different run ids.
    assert _rows(runs.torchrun)[0]["run_id"] != _rows(runs.single)[0]["run_id"]


def test_killing_one_process_stops_the_run_with_one_message_and_no_row(runs: Runs) -> None:
    assert runs.killed_exit.returncode == 1
    errors = [line for line in runs.killed_exit.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, runs.killed_exit.stderr
    assert "Process 1 of this 2-device run was killed by SIGKILL" in errors[0]
    assert "--resume" in runs.killed_exit.stderr and "Traceback" not in runs.killed_exit.stderr


def test_resuming_on_two_processes_ends_as_the_uninterrupted_run(runs: Runs) -> None:
    assert runs.resumed.returncode == 0, runs.resumed.stderr
    assert "resuming run" in runs.resumed.stderr
    whole, resumed = _rows(runs.torchrun), _rows(runs.killed)
    assert [r["value"] for r in resumed] == [r["value"] for r in whole]
    assert resumed[0]["run_id"] == whole[0]["run_id"]
    assert _losses(runs.killed) == _losses(runs.torchrun)


def test_resuming_on_another_number_of_devices_is_refused(runs: Runs) -> None:
    (run_dir,) = (runs.killed / "runs").iterdir()
    refused = subprocess.run(
        [sys.executable, "-m", "medganbench", "run", f"--resume={run_dir}", "--devices=1"],
        cwd=runs.killed,
        env=runs.env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert "was started on 2 device(s); it continues exactly only on 2, not on 1" in refused.stderr
    assert "Traceback" not in refused.stderr
