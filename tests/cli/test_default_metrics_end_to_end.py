"""Issue 15's done-when, as a user runs it: the defaults score what the run is about."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from tests.dataset_trees import contract_args
from tests.folders import the_run_folder

TINY_CT = "domain=b,train_subjects=2,val_subjects=2,test_subjects=2,slices_per_subject=4"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medganbench", *args],
        cwd=cwd, env=os.environ.copy(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _rows(work: Path, dataset: str) -> set[tuple[str, str]]:
    table = read_leaderboard(leaderboard_path(work / "runs" / "leaderboards", dataset))
    return {(r["direction"], r["metric"]) for r in table.to_pylist()}


@pytest.mark.slow
def test_a_cycle_model_on_unpaired_kaggle_data_is_scored_one_way_and_round_trip(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "kaggle"
    args = contract_args("kaggle-brain", tmp_path / "trees", tree)
    proc = _cli(
        "run", "--model", "hlsnc", "--dataset", "kaggle-brain", "--data-dir", str(tree),
        *(f"--dataset-arg={k}={v}" for k, v in args.items()),
        "--image-size", "32", "--budget", "steps=1", "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _rows(tmp_path, "kaggle-brain") == {
        ("a2b", "fid"), ("a2b", "kid"), ("b2a", "fid"), ("b2a", "kid"),
        ("a2b2a", "psnr"), ("a2b2a", "ssim"), ("a2b2a", "mae"),
        ("b2a2b", "psnr"), ("b2a2b", "ssim"), ("b2a2b", "mae"),
    }  # fmt: skip


@pytest.mark.slow
def test_a_sampler_gets_coverage_and_memorisation_and_the_site_shows_the_audit(
    tmp_path: Path,
) -> None:
    proc = _cli(
        "run", "--model", "hagan", "--dataset-arg", TINY_CT, "--model-arg", "batch_size=4",
        "--image-size", "32", "--budget", "steps=2", "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    metrics = {m for _, m in _rows(tmp_path, "phantom-brain")}
    assert metrics == {"fid", "kid", "precision", "recall", "density", "coverage", "memorisation"}
    run_dir = the_run_folder(tmp_path / "runs")
    assert (run_dir / "nearest.png").is_file()
    site = _cli("leaderboard", "publish", "--out", "site", cwd=tmp_path)
    assert site.returncode == 0, site.stderr
    page = (tmp_path / "site" / "runs" / f"{run_dir.name}.html").read_text()
    assert f"{run_dir.name}/nearest.png" in page and "memorisation audit" in page
