"""Exact resume: a run interrupted after a checkpoint and resumed ends with the same result.

The SIGKILL tests are the real thing: a `medganbench run` process is killed with SIGKILL once a
mid-run checkpoint exists, `medganbench run --resume` finishes it, its leaderboard values equal
those of the same run done in one go, and it reports the step it resumed from. The in-process tests check the same contract for
every registered model, interrupting with a KeyboardInterrupt (what Ctrl-C raises) after a
checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.model import Task
from medganbench.errors import RunError, UsageError
from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from medganbench.run.batches import TrainBatches
from medganbench.run.budget import Budget
from medganbench.run.checkpoint import CHECKPOINT_NAME, load_checkpoint
from medganbench.run.options import RunOptions
from medganbench.run.prepare import prepare
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec, resolve_run
from medganbench.run.train import train
from tests.plugins.models.test_syndiff import NARROW as NARROW_SYNDIFF

TOLERANCE = 1e-6

# Small networks keep every step well under a second on two CPU cores.
SMALL_ARGS: dict[str, dict[str, str]] = {
    "hlsnc": {"ngf": "8", "ndf": "8", "n_blocks": "1"},
    "cyclegan": {"ngf": "8", "ndf": "8", "n_blocks": "1"},
    "pix2pix": {"ngf": "8", "ndf": "8"},
    "dcgan": {"ngf": "8", "ndf": "8"},
    "wgan-gp": {"ngf": "8", "ndf": "8"},
    "sagan": {"ngf": "8", "ndf": "8"},
    "hagan": {"ngf": "8", "ndf": "8"},
    "wgan": {"ngf": "8", "ndf": "8"},
    "infogan": {"ngf": "8", "ndf": "8"},
    "unetgan": {"ngf": "8", "ndf": "8", "warmup": "0"},
    "ddpm": {"ch": "32", "batch_size": "4", "sampler": "ddim", "sample_steps": "4"},
    "cond-ddpm": {"ch": "32", "sample_steps": "4"},
    # SynDiff's eight networks at their published widths take over a minute here.
    "syndiff": NARROW_SYNDIFF,
    "dcgan3d": {"ngf": "4", "ndf": "4", "batch_size": "2"},
    "wgan-gp3d": {"ngf": "4", "ndf": "4", "batch_size": "2"},
    "pix2pix3d": {"ngf": "4", "ndf": "4"},
    "hagan3d": {"channels": "16", "latent_dim": "64", "batch_size": "2"},
}
#: The 3-D models resume on a small 3-D phantom (two heads per split).
SMALL_VOLUMES = {"train_subjects": "2", "val_subjects": "2", "test_subjects": "2"}


def _values(table: pa.Table) -> dict[tuple[str, str], float]:
    return {
        (row["direction"], row["metric"]): row["value"]
        for row in table.select(["direction", "metric", "value"]).to_pylist()
    }


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "medganbench", *args]


def _checkpoint_steps(path: Path) -> int:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=False)["ledger"]["steps"])
    except (FileNotFoundError, EOFError, RuntimeError):
        return 0


@dataclass(frozen=True)
class KilledAndResumed:
    """A run killed with SIGKILL after a mid-run checkpoint, then resumed with --resume."""

    whole: Path  # where the same run was done in one go
    killed: Path  # where it was killed and resumed
    run_dir: Path
    stopped_at: int  # the step of the checkpoint the kill left behind
    resumed: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory: pytest.TempPathFactory) -> KilledAndResumed:
    run_args = [
        "run",
        "--model",
        "hlsnc",
        "--image-size",
        "32",
        "--budget",
        "steps=12",
        "--checkpoint-every",
        "3",
        "--deterministic",
        "--no-progress",
        *(f"--model-arg={k}={v}" for k, v in SMALL_ARGS["hlsnc"].items()),
    ]
    # Module scope runs before the per-test environment fixture, so the child gets it here.
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "MEDGANBENCH_HOME": str(tmp_path_factory.getbasetemp() / "home"),
        "MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    whole, killed = tmp_path_factory.mktemp("whole"), tmp_path_factory.mktemp("killed")
    subprocess.run(_cli(*run_args), cwd=whole, env=env, check=True, capture_output=True)

    proc = subprocess.Popen(
        _cli(*run_args),
        cwd=killed,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240

    def checkpoints() -> list[Path]:
        return list((killed / "runs").glob(f"*/{CHECKPOINT_NAME}"))

    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoints() and _checkpoint_steps(checkpoints()[0]) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed mid-way"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    (checkpoint,) = checkpoints()
    stopped_at = _checkpoint_steps(checkpoint)
    assert 3 <= stopped_at < 12
    assert not (killed / "runs" / "leaderboards").exists()

    resumed = subprocess.run(
        _cli("run", "--resume", str(checkpoint.parent), "--deterministic", "--no-progress"),
        cwd=killed,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    return KilledAndResumed(whole, killed, checkpoint.parent, stopped_at, resumed)


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_result(
    killed_and_resumed: KilledAndResumed,
) -> None:
    whole, killed = killed_and_resumed.whole, killed_and_resumed.killed
    expected = read_leaderboard(leaderboard_path(whole / "runs" / "leaderboards", "phantom-brain"))
    got = read_leaderboard(leaderboard_path(killed / "runs" / "leaderboards", "phantom-brain"))
    assert got.column("run_id").to_pylist() == expected.column("run_id").to_pylist()
    want, have = _values(expected), _values(got)
    assert want.keys() == have.keys() and len(want) == 12
    for key, value in want.items():
        assert math.isclose(have[key], value, rel_tol=0, abs_tol=TOLERANCE), key
    assert got.column("steps_done").to_pylist() == [12] * got.num_rows


@pytest.mark.slow
def test_a_resumed_run_reports_the_step_it_resumed_from(
    killed_and_resumed: KilledAndResumed,
) -> None:
    run_dir, stopped_at = killed_and_resumed.run_dir, killed_and_resumed.stopped_at
    assert (
        f"resuming run {run_dir.name} from step {stopped_at}" in killed_and_resumed.resumed.stderr
    )
    result = json.loads((run_dir / "result.json").read_text())
    # The step training continued from, not the step it ended at.
    assert result["resumed_from_step"] == stopped_at
    assert result["ledger"]["steps"] == 12


def _interrupt_after(step: int, monkeypatch: pytest.MonkeyPatch, model_cls: type) -> None:
    """Make ``model_cls.train_step`` raise KeyboardInterrupt when asked for step ``step + 1``."""
    real = model_cls.train_step
    calls = {"n": 0}

    def train_step(self, batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > step:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(model_cls, "train_step", train_step)


def _model_names() -> list[str]:
    return sorted(e.spec.name for e in build_registries(make_plugin_manager()).models.entries())


@pytest.mark.slow
@pytest.mark.parametrize("model", _model_names())
def test_every_model_resumes_to_the_same_final_state(
    model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registries = build_registries(make_plugin_manager())
    model_cls = registries.models.get(model).load()
    sampler = model_cls.task is Task.SAMPLE
    volumes = model_cls.spatial_dims == 3
    spec = RunSpec(
        model=model,
        dataset="phantom-brain-3d" if volumes else "phantom-brain",
        model_args=SMALL_ARGS.get(model, {}),
        dataset_args=SMALL_VOLUMES if volumes else ({"domain": "b"} if sampler else {}),
        image_size=32,
        metrics=(("mmd",) if volumes else ("fid",)) if sampler else ("psnr",),
        budget=Budget(steps=3),
    )
    # Only the prepare and train phases run: evaluation is a deterministic function of the final
    # state (a seeded generator, eval-mode networks), and the SIGKILL test covers metrics end to
    # end, so FID's Inception network stays out of a test about training state.
    whole = RunOptions(
        leaderboard_dir=tmp_path / "b",
        runs_dir=tmp_path / "r1",
        progress=False,
        checkpoint_every=1,
        cache_dir=tmp_path / "c",
        deterministic=True,
    )
    train(prepare(spec, registries, whole))
    interrupted = dataclass_replace(whole, runs_dir=tmp_path / "r2")
    with monkeypatch.context() as patch:
        _interrupt_after(2, patch, registries.models.get(model).load())
        with pytest.raises(KeyboardInterrupt):
            train(prepare(spec, registries, interrupted))
    run_id = resolve_run(spec, registries).run_id
    assert load_checkpoint(tmp_path / "r2" / run_id / CHECKPOINT_NAME, run_id).ledger.steps == 2
    torch.manual_seed(12345)  # whatever the process did in between must not matter
    trained = train(prepare(spec, registries, dataclass_replace(interrupted, resume=True)))
    assert trained.resumed_from_step == 2
    want = load_checkpoint(tmp_path / "r1" / run_id / CHECKPOINT_NAME, run_id)
    have = load_checkpoint(tmp_path / "r2" / run_id / CHECKPOINT_NAME, run_id)
    assert have.ledger.steps == want.ledger.steps == 3
    _assert_same_state(have.model, want.model)
    _assert_same_state(have.data_order, want.data_order, "data_order")
    _assert_same_state(have.rng["torch"], want.rng["torch"], "rng")


def _assert_same_state(have: object, want: object, path: str = "model") -> None:
    """Nested state dicts equal: tensors within TOLERANCE, everything else exactly."""
    if isinstance(want, torch.Tensor):
        assert isinstance(have, torch.Tensor) and have.shape == want.shape, path
        if want.is_floating_point():
            assert torch.allclose(have, want, rtol=0, atol=TOLERANCE), path
        else:
            assert torch.equal(have, want), path
    elif isinstance(want, dict):
        assert isinstance(have, dict) and have.keys() == want.keys(), path
        for key in want:
            _assert_same_state(have[key], want[key], f"{path}.{key}")
    elif isinstance(want, (list, tuple)):
        assert isinstance(have, (list, tuple)) and len(have) == len(want), path
        for i, (h, w) in enumerate(zip(have, want, strict=True)):
            _assert_same_state(h, w, f"{path}[{i}]")
    else:
        assert have == want, path


def dataclass_replace(options: RunOptions, **changes: object) -> RunOptions:
    import dataclasses

    return dataclasses.replace(options, **changes)  # type: ignore[arg-type]


def test_resume_without_checkpoint_starts_from_step_zero(tmp_path: Path) -> None:
    registries = build_registries(make_plugin_manager())
    spec = RunSpec(model="identity", image_size=32, budget=Budget(steps=2), metrics=("psnr",))
    result = execute_run(
        spec,
        registries,
        RunOptions(
            leaderboard_dir=tmp_path / "b",
            runs_dir=tmp_path / "r",
            progress=False,
            cache_dir=tmp_path / "c",
            resume=True,
        ),
    )
    assert result.ledger.steps == 2
    assert json.loads((result.run_dir / "result.json").read_text())["resumed_from_step"] is None


def test_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    registries = build_registries(make_plugin_manager())
    spec = RunSpec(model="identity", image_size=32, budget=Budget(steps=2), metrics=("psnr",))
    options = RunOptions(
        leaderboard_dir=tmp_path / "b",
        runs_dir=tmp_path / "r",
        progress=False,
        cache_dir=tmp_path / "c",
        keep_checkpoint=True,  # a finished run prunes it otherwise
    )
    result = execute_run(spec, registries, options)
    other = resolve_run(
        RunSpec(model="identity", image_size=32, budget=Budget(steps=2), metrics=("psnr",), seed=1),
        registries,
    )
    with pytest.raises(
        RunError, match=f"belongs to run {result.run_id}, not to run {other.run_id}"
    ):
        load_checkpoint(result.run_dir / CHECKPOINT_NAME, other.run_id)


def test_corrupt_checkpoint_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RunError, match="Cannot read the checkpoint"):
        load_checkpoint(path, "abc")


@pytest.mark.parametrize("unpaired", [False, True])
def test_data_order_resumes_across_an_epoch_boundary(unpaired: bool) -> None:
    data = [
        {
            "a": torch.tensor([float(i)]),
            "b": torch.tensor([float(-i)]),
            "mask_a": torch.tensor([True]),
            "mask_b": torch.tensor([True]),
        }
        for i in range(7)
    ]
    whole = TrainBatches(data, 2, 3, unpaired=unpaired, paired_data=True)
    first = [next(whole) for _ in range(5)]  # 3 batches per epoch: crosses into the second
    assert first  # the state after five batches is what we restore below
    state = whole.state_dict()
    expected = [next(whole) for _ in range(8)]
    resumed = TrainBatches(data, 2, 3, unpaired=unpaired, paired_data=True)
    resumed.load_state_dict(state)
    got = [next(resumed) for _ in range(8)]
    for (want, want_paired), (have, have_paired) in zip(expected, got, strict=True):
        assert want_paired == have_paired == (not unpaired)
        assert torch.equal(want["a"], have["a"]) and torch.equal(want["b"], have["b"])


@pytest.mark.slow
def test_cli_resume_refuses_spec_options(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "0123456789abcdef"
    run_dir.mkdir(parents=True)
    proc = subprocess.run(
        _cli("run", "--resume", str(run_dir), "--seed", "3"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == UsageError.exit_code
    assert "do not also give --seed" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_cli_resume_of_a_directory_without_spec_is_one_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        _cli("run", "--resume", str(tmp_path)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == UsageError.exit_code
    assert "has no spec.json" in proc.stderr and "Traceback" not in proc.stderr
