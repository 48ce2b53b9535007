"""Point 9: no absolute local path reaches a leaderboard row, a published spec.json or the site.

A dataset root named like a patient is a realistic leak: the path is kept in the local run
folder only (``runs/<id>/local.json``, for ``--resume``), and the run id does not depend on it.
Rows of older schemas (v1, v2) could still carry one: the upgrade strips it, and the site strips
location arguments again from whatever rows and specs it is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.leaderboard.store import read_leaderboard
from medganbench.site.locations import location_names
from medganbench.site.reproduce import reproduce
from medganbench.site.runs import run_body
from tests.folders import DEFAULT_BOARDS, the_run_folder
from tests.hostile.conftest import assert_one_message, cli
from tests.leaderboard.rows import make_row, v1_table, v2_table, write_raw

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


@pytest.mark.slow
def test_a_patient_named_root_stays_in_the_local_run_folder(work: Path, tmp_path: Path) -> None:
    root = _paired_tree(tmp_path / "scans" / PATIENT)
    _run(work, root)
    published = cli("leaderboard", "publish", "--out", "site", cwd=work)
    assert published.returncode == 0, published.stderr

    assert _files_holding(work / DEFAULT_BOARDS, PATIENT) == []
    assert _files_holding(work / "site", PATIENT) == []
    run_dir = the_run_folder(work / "runs")
    assert PATIENT not in (run_dir / "spec.json").read_text()
    assert _files_holding(work / "runs", PATIENT) == [f"{run_dir.name}/local.json"]
    assert json.loads((run_dir / "local.json").read_text()) == {
        "dataset_location": {"root": str(root)}
    }


@pytest.mark.slow
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


@pytest.mark.slow
def test_resume_finds_the_data_through_the_local_run_folder(work: Path, tmp_path: Path) -> None:
    root = _paired_tree(tmp_path / "scans" / PATIENT)
    _run(work, root)
    run_dir = the_run_folder(work / "runs")
    (work / DEFAULT_BOARDS / "paired-folder.arrow").unlink()  # record it again from the run
    resumed = cli("run", "--resume", f"runs/{run_dir.name}", "--no-progress", cwd=work)
    assert resumed.returncode == 0, resumed.stderr
    assert (work / DEFAULT_BOARDS / "paired-folder.arrow").exists()


# Before location arguments were kept off the leaderboard (schema v1 and v2), a row carried
# its dataset's root in dataset_args: merged into a current board and published, that path was
# printed on the run page and in its reproduce command.
OLD_ROOT = f"/data/scans/{PATIENT}/mr-ct"


def _old_rows() -> list[dict[str, object]]:
    args = json.dumps({"root": OLD_ROOT, "data_dir": f"/mnt/{PATIENT}", "val_fraction": 0.1})
    return [
        make_row(run_id="old", dataset="paired-folder", dataset_args=args, metric=metric)
        for metric in ("psnr", "ssim")
    ]


def test_an_old_board_loses_its_data_roots_when_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "old.arrow"
    write_raw(path, v2_table(*_old_rows()))
    for row in read_leaderboard(path).to_pylist():
        assert json.loads(row["dataset_args"]) == {"val_fraction": 0.1}


@pytest.mark.slow
def test_a_merged_old_board_publishes_no_data_root(work: Path) -> None:
    write_raw(work / "old.arrow", v1_table(*_old_rows()))
    (work / DEFAULT_BOARDS).mkdir(parents=True)
    merged = cli("leaderboard", "merge", "old.arrow", "--out", "runs/leaderboards/paired-folder.arrow",
                 cwd=work)  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    published = cli("leaderboard", "publish", "--out", "site", cwd=work)
    assert published.returncode == 0, published.stderr
    assert _files_holding(work / "site", PATIENT) == []
    assert _files_holding(work / DEFAULT_BOARDS, PATIENT) == []


def test_the_site_strips_data_roots_from_rows_and_specs_it_is_given() -> None:
    # The second line of defence: rows that somehow still carry a root (read around the
    # upgrade), and an old run folder's spec.json that does.
    rows = [dict(r) for r in _old_rows()]
    spec_json = {"model": "identity", "dataset_args": json.loads(str(rows[0]["dataset_args"]))}
    registries = build_registries(make_plugin_manager())
    reproduction = reproduce(rows, spec_json, registries)
    assert PATIENT not in reproduction.command
    assert "--dataset-arg=val_fraction=0.1" not in reproduction.command  # the default
    external = [{**r, "track": "external", "model_args": '{"direction":"a2b"}'} for r in rows]
    assert PATIENT not in reproduce(external, None, registries).command
    names = location_names("paired-folder", registries)
    html = run_body(rows, [], spec_json, reproduction, private=names)
    assert PATIENT not in html and "val_fraction" in html
