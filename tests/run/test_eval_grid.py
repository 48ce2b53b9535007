"""``--eval-grid``: a run option (no longer a dataset argument), in the run id only when native,
refused before training where the dataset cannot give the native grid."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from medganbench.core.manager import Registries
from medganbench.errors import UsageError
from medganbench.run.budget import Budget
from medganbench.run.external import ExternalSpec, score_outputs
from medganbench.run.options import RunOptions
from medganbench.run.prepare import prepare
from medganbench.run.resume import spec_from_identity
from medganbench.run.spec import RunSpec, resolve_run
from medganbench.sweep.spec import expand_trials, parse_sweep
from tests.cli_runner import cli_in_process

HINT = "--eval-grid native"


def _spec(**changes: object) -> RunSpec:
    return dataclasses.replace(RunSpec(model="identity", budget=Budget(steps=5)), **changes)  # type: ignore[arg-type]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # In this process: the same command group and error handling, without seconds of start-up.
    return cli_in_process(*args, cwd=cwd)


# --------------------------------------------------------------------------------- identity


def test_the_default_grid_leaves_the_identity_as_it_was(registries: Registries) -> None:
    run = resolve_run(_spec(), registries)
    assert "eval_grid" not in run.identity()
    assert resolve_run(_spec(eval_grid="image_size"), registries).run_id == run.run_id


def test_native_is_in_the_identity_and_changes_the_id(registries: Registries) -> None:
    plain = resolve_run(_spec(dataset="synthrad2023"), registries)
    native = resolve_run(_spec(dataset="synthrad2023", eval_grid="native"), registries)
    assert native.identity()["eval_grid"] == "native"
    assert native.run_id != plain.run_id
    assert {k: v for k, v in native.identity().items() if k != "eval_grid"} == plain.identity()


def test_a_recorded_identity_gives_back_the_grid(registries: Registries) -> None:
    for grid in ("image_size", "native"):
        run = resolve_run(_spec(dataset="synthrad2023", eval_grid=grid), registries)
        again = spec_from_identity(run.identity())
        assert again.eval_grid == grid
        assert resolve_run(again, registries).run_id == run.run_id


def test_an_unknown_grid_is_refused(registries: Registries) -> None:
    with pytest.raises(UsageError, match="--eval-grid 'native-ish' is not one of image_size"):
        resolve_run(_spec(eval_grid="native-ish"), registries)


# ---------------------------------------------------------------- the former dataset argument


@pytest.mark.parametrize("dataset", ["phantom-brain", "synthrad2023", "paired-volume-folder"])
def test_eval_grid_as_a_dataset_argument_points_to_the_run_option(
    registries: Registries, dataset: str
) -> None:
    spec = _spec(dataset=dataset, dataset_args={"eval_grid": "native"})
    with pytest.raises(UsageError, match="eval_grid is not an argument of dataset") as info:
        resolve_run(spec, registries)
    assert HINT in (info.value.hint or "")
    # Every path resolves a dataset's arguments through its spec (the default metrics too,
    # before the run is resolved): same message everywhere.
    with pytest.raises(UsageError, match="it is a run option now"):
        registries.datasets.get(dataset).resolve({"eval_grid": "native"})


def test_eval_grid_as_a_dataset_argument_fails_the_command_line_once(tmp_path: Path) -> None:
    proc = _cli("run", "--model", "identity", "--dataset-arg", "eval_grid=native", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1
    assert "eval_grid is not an argument of dataset 'phantom-brain'" in proc.stderr
    assert HINT in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_a_sweep_with_eval_grid_among_dataset_args_is_refused_before_any_trial(
    registries: Registries,
) -> None:
    sweep = parse_sweep(
        {
            "name": "s",
            "budget": "steps=1",
            "metrics": ["psnr"],
            "seeds": [0],
            "datasets": [{"name": "synthrad2023", "args": {"eval_grid": "native"}}],
            "models": ["identity"],
        },
        "s.toml",
    )
    with pytest.raises(UsageError, match="run option"):
        expand_trials(sweep, registries)


# ---------------------------------------------------------------------------- sweeps, CLI


def test_a_sweep_carries_eval_grid_to_every_trial(registries: Registries) -> None:
    data = {
        "name": "s",
        "budget": "steps=1",
        "metrics": ["psnr"],
        "seeds": [0, 1],
        "datasets": ["synthrad2023"],
        "models": ["identity"],
    }
    assert {s.eval_grid for _, s in parse_sweep(data, "s.toml").specs()} == {"image_size"}
    trials = expand_trials(parse_sweep({**data, "eval_grid": "native"}, "s.toml"), registries)
    assert {t.spec.eval_grid for t in trials} == {"native"}
    with pytest.raises(UsageError, match="eval_grid 'image-size' is not one of"):
        parse_sweep({**data, "eval_grid": "image-size"}, "s.toml")


def test_run_help_describes_the_option(tmp_path: Path) -> None:
    proc = _cli("run", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    flat = " ".join(proc.stdout.split())
    assert "--eval-grid [image_size|native]" in flat
    assert "native grid" in flat and "paired volume datasets" in flat and "SynthRAD" in flat


def test_resume_refuses_eval_grid_beside_it(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    proc = _cli("run", "--resume", str(tmp_path / "run"), "--eval-grid", "native", cwd=tmp_path)
    # The console wraps a long message at its width: compare the words.
    assert proc.returncode == 2 and "do not also give --eval-grid" in " ".join(proc.stderr.split())


# ------------------------------------------------------------------- datasets that cannot


def test_native_grid_on_a_dataset_without_it_is_refused_before_training(
    registries: Registries, dirs: dict[str, Path]
) -> None:
    spec = _spec(dataset="phantom-brain", eval_grid="native", image_size=32)
    with pytest.raises(UsageError, match="--eval-grid native: dataset 'phantom-brain' cannot"):
        prepare(spec, registries, RunOptions(progress=False, **dirs))
    # Nothing of the run was started: no run folder, no spec, no leaderboard.
    assert not any(dirs["runs_dir"].glob("*/spec.json"))
    assert not dirs["leaderboard_dir"].exists() or not any(dirs["leaderboard_dir"].iterdir())


def test_native_grid_on_a_dataset_without_it_fails_the_command_line_once(tmp_path: Path) -> None:
    proc = _cli(
        "run", "--model", "identity", "--image-size", "32", "--eval-grid", "native", cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("error:") == 1 and "Traceback" not in proc.stderr
    flat = " ".join(proc.stderr.split())
    assert "dataset 'phantom-brain' cannot give its patients' slices" in flat


def test_scoring_outputs_on_the_native_grid_of_a_dataset_without_it_is_refused(
    registries: Registries, dirs: dict[str, Path], tmp_path: Path
) -> None:
    spec = ExternalSpec(
        name="mine", outputs=tmp_path / "none", dataset="phantom-brain", image_size=32,
        eval_grid="native",
    )  # fmt: skip
    with pytest.raises(UsageError, match="dataset 'phantom-brain' cannot"):
        score_outputs(spec, registries, RunOptions(progress=False, **dirs))
