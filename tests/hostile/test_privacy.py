"""Point 9: no absolute local path reaches a leaderboard row, a published spec.json or the site.

A dataset root named like a patient is a realistic leak: the path is kept in the local run
folder only (``runs/<id>/local.json``, for ``--resume``), and the run id does not depend on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.hostile.conftest import assert_one_message, cli

PATIENT = "PAT-0042-DOE-JANE"


def _paired_tree(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("test", 2)):
        for side in ("A", "B"):
            folder = root / side / split
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = (rng.random((32, 32)) * 80).astype(np.uint8)
                pixels[8:24, 8:24] += 120
                Image.fromarray(pixels).save(folder / f"s{i}.png")
    return root


def _run(work: Path, root: Path) -> None:
    proc = cli(
        "run", "--model", "identity", "--dataset", "paired-folder", "--dataset-arg", f"root={root}",
        "--image-size", "32", "--budget", "steps=1", "--metrics", "psnr", "--no-progress",
        cwd=work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _files_holding(folder: Path, text: str) -> list[str]:
    return [
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and text.encode() in p.read_bytes()
    ]


def test_a_patient_named_root_stays_in_the_local_run_folder(work: Path, tmp_path: Path) -> None:
    root = _paired_tree(tmp_path / "scans" / PATIENT)
    _run(work, root)
    published = cli("leaderboard", "publish", "--out", "site", cwd=work)
    assert published.returncode == 0, published.stderr

    assert _files_holding(work / "leaderboards", PATIENT) == []
    assert _files_holding(work / "site", PATIENT) == []
    (run_dir,) = (work / "runs").iterdir()
    assert PATIENT not in (run_dir / "spec.json").read_text()
    assert _files_holding(work / "runs", PATIENT) == [f"{run_dir.name}/local.json"]
    assert json.loads((run_dir / "local.json").read_text()) == {
        "dataset_location": {"root": str(root)}
    }


def test_the_same_data_elsewhere_is_the_same_run(work: Path, tmp_path: Path) -> None:
    _run(work, _paired_tree(tmp_path / "a" / PATIENT))
    again = cli(
        "run", "--model", "identity", "--dataset", "paired-folder",
        "--dataset-arg", f"root={_paired_tree(tmp_path / 'b' / 'elsewhere')}",
        "--image-size", "32", "--budget", "steps=1", "--metrics", "psnr", "--no-progress",
        cwd=work,
    )  # fmt: skip
    assert_one_message(again, code=2)
    assert "already on" in again.stderr


def test_resume_finds_the_data_through_the_local_run_folder(work: Path, tmp_path: Path) -> None:
    root = _paired_tree(tmp_path / "scans" / PATIENT)
    _run(work, root)
    (run_dir,) = (work / "runs").iterdir()
    (work / "leaderboards" / "paired-folder.arrow").unlink()  # record it again from the run
    resumed = cli("run", "--resume", f"runs/{run_dir.name}", "--no-progress", cwd=work)
    assert resumed.returncode == 0, resumed.stderr
    assert (work / "leaderboards" / "paired-folder.arrow").exists()
