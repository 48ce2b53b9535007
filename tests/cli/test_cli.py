"""The command line, run as a real process: exit codes, one clear message, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.ipc as ipc
import pytest

from tests.cli_runner import cli_in_process

SMALL = [
    "--image-size",
    "32",
    "--dataset-arg",
    "train_subjects=3,val_subjects=2,test_subjects=2,slices_per_subject=2",
]


def _cli(
    *args: str, cwd: Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if env_extra is None:
        # In this process: the same command group and error handling, without a second or
        # more of start-up per call. A test that sets the environment gets a process.
        return cli_in_process(*args, cwd=cwd)
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "medganbench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("error:") == 1


def test_unknown_model_exits_2_with_suggestion(tmp_path: Path) -> None:
    proc = _cli("run", "--model", "identiy", cwd=tmp_path)
    _assert_clean_failure(proc, 2)
    assert "Did you mean 'identity'" in proc.stderr and "Known models:" in proc.stderr


def test_bad_budget_exits_2(tmp_path: Path) -> None:
    proc = _cli("run", "--model", "identity", "--budget", "epochs=3", cwd=tmp_path)
    _assert_clean_failure(proc, 2)
    assert "steps=N" in proc.stderr


def test_unknown_model_arg_exits_2(tmp_path: Path) -> None:
    proc = _cli("run", "--model", "identity", "--model-arg", "batchsize=2", cwd=tmp_path)
    _assert_clean_failure(proc, 2)
    assert "Did you mean 'batch_size'" in proc.stderr


def test_paired_metric_on_unpaired_dataset_exits_2(tmp_path: Path) -> None:
    proc = _cli(
        "run", "--model", "identity", *SMALL, "--dataset-arg", "paired=false", "--metrics", "psnr",
        cwd=tmp_path,
    )  # fmt: skip
    _assert_clean_failure(proc, 2)
    assert "unpaired" in proc.stderr


@pytest.mark.slow
def test_run_then_show_and_export(tmp_path: Path) -> None:
    for model in ("identity", "intensity-lookup"):
        proc = _cli(
            "run", "--model", model, "--budget", "steps=3", "--no-progress", *SMALL, cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stderr
    board = tmp_path / "runs" / "leaderboards" / "phantom-brain.arrow"
    # 2 runs × 3 metrics, per slice and per patient (eval_unit "volume").
    assert ipc.open_file(board).read_all().num_rows == 12
    show = _cli("leaderboard", "show", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    # intensity-lookup ranks first on the default (first) metric, psnr. With six metric columns
    # (per slice and per patient) the 200-column table may shorten its name.
    assert show.stdout.index("intensity-lo") < show.stdout.index("identity ")
    md = tmp_path / "board.md"
    exp = _cli(
        "leaderboard",
        "export",
        "--dataset",
        "phantom-brain",
        "--format",
        "md",
        "--out",
        str(md),
        cwd=tmp_path,
    )
    assert exp.returncode == 0, exp.stderr
    assert "intensity-lookup" in md.read_text()


def test_export_to_dash_writes_to_standard_output_not_a_file(tmp_path: Path) -> None:
    boards = str(Path(__file__).resolve().parents[2] / "leaderboards")
    args = ("leaderboard", "export", "--dataset", "phantom-brain", "--format", "md")
    proc = _cli(*args, "--out", "-", "--leaderboard-dir", boards, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "-").exists()
    written = _cli(*args, "--out", "board.md", "--leaderboard-dir", boards, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert proc.stdout == (tmp_path / "board.md").read_text(encoding="utf-8")


def test_show_without_leaderboards_exits_2(tmp_path: Path) -> None:
    _assert_clean_failure(_cli("leaderboard", "show", cwd=tmp_path), 2)


@pytest.mark.slow
def test_list_models_shows_builtins(tmp_path: Path) -> None:
    proc = _cli("list", "models", "--details", "--image-size", "32", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "intensity-lookup" in proc.stdout and "bins=256" in proc.stdout
    assert "GFLOPs/step" in proc.stdout and "at 32 px" in proc.stdout
    hlsnc = next(line for line in proc.stdout.splitlines() if line.startswith("│ hlsnc "))
    # Two 9-block generators and two PatchGANs: 28,263,100 learned parameters at any size.
    assert "28,263,100" in hlsnc and "loss=hinge" in hlsnc


@pytest.mark.slow
def test_list_metrics_prints_brackets_in_summaries_as_they_are(tmp_path: Path) -> None:
    # Wide enough that frd's summary is not wrapped; rich markup would eat "[radiomics]".
    proc = _cli("list", "metrics", cwd=tmp_path, env_extra={"COLUMNS": "400"})
    assert proc.returncode == 0, proc.stderr
    assert "via frd-score (pip install 'medganbench[radiomics]')." in proc.stdout


def test_bad_ablation_value_exits_2_listing_the_allowed_ones(tmp_path: Path) -> None:
    proc = _cli("run", "--model", "hlsnc", "--model-arg", "norm=group", cwd=tmp_path)
    _assert_clean_failure(proc, 2)
    assert "norm='group'" in proc.stderr and "switchable|instance|batch|layer" in proc.stderr


def test_pix2pix_on_unpaired_data_exits_2_before_training(tmp_path: Path) -> None:
    proc = _cli("run", "--model", "pix2pix", *SMALL, "--dataset-arg", "paired=false", cwd=tmp_path)
    _assert_clean_failure(proc, 2)
    assert "needs paired training data" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_plugins_lists_versions(tmp_path: Path) -> None:
    proc = _cli("plugins", cwd=tmp_path)
    assert proc.returncode == 0
    assert "medganbench_plugins.models.identity" in proc.stdout and "built-in" in proc.stdout


def test_corrupt_image_in_a_folder_dataset_is_one_message_naming_it(tmp_path: Path) -> None:
    from PIL import Image

    for side in ("A", "B"):
        for split in ("train", "test"):
            folder = tmp_path / "data" / side / split
            folder.mkdir(parents=True)
            for i in range(3):
                Image.new("L", (40, 40), color=40 * i + 60).save(folder / f"s{i}.png")
    broken = tmp_path / "data" / "A" / "train" / "s1.png"
    broken.write_bytes(broken.read_bytes()[:40])
    proc = _cli(
        "run",
        "--model",
        "identity",
        "--dataset",
        "paired-folder",
        "--image-size",
        "32",
        "--dataset-arg",
        f"root={tmp_path / 'data'}",
        "--budget",
        "steps=1",
        "--no-progress",
        cwd=tmp_path,
    )
    _assert_clean_failure(proc, 1)
    assert "A/train/s1.png" in proc.stderr and "strict=false" in proc.stderr
    assert not (tmp_path / "runs" / "leaderboards").exists()


def test_no_amp_names_its_replacement(tmp_path: Path) -> None:
    proc = _cli("run", "--model", "identity", "--no-amp", cwd=tmp_path)
    _assert_clean_failure(proc, 2)
    assert "--precision fp32" in proc.stderr
