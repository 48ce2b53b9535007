"""Point 2: nothing is written or read outside the folder the user named.

Values that become parts of paths — a row's run id, dataset and model, a sweep's name, a file
name in a run folder — are checked against their shape (``../``, absolute paths, NUL and newline
never pass), and the site reads run files only from inside the runs folder. Commands refused
before they do any work run in this process (``cli_in_process``: the same command group and
error handling, without seconds of start-up per case).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pytest
from PIL import Image

from medganbench.cli.common import load_registries
from medganbench.cli.run_spec import spec_from_options
from medganbench.core.names import leads_outside
from medganbench.errors import LeaderboardError
from medganbench.leaderboard.schema import SCHEMA
from medganbench.leaderboard.store import leaderboard_path
from medganbench.run.spec import resolve_run
from tests.cli_runner import cli_in_process
from tests.folders import DEFAULT_BOARDS, the_run_folder
from tests.hostile.conftest import TINY_RUN, assert_one_message, cli
from tests.leaderboard.rows import make_row, write_raw

HOSTILE_VALUES = ["../../outside", "/tmp/absolute", "a\x00b", "a\nb"]


def _crafted_board(path: Path, **column: str) -> Path:
    """A leaderboard file with one row whose ``column`` holds a hostile value."""
    row = make_row()
    row.update(column)  # after make_row: stored as given, as a crafted file would hold it
    path.parent.mkdir(parents=True, exist_ok=True)
    write_raw(path, pa.Table.from_pylist([row], schema=SCHEMA))
    return path


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("column", ["run_id", "dataset", "model"])
@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=["dotdot", "absolute", "nul", "newline"])
def test_merge_refuses_a_row_whose_identifier_could_name_a_path(
    tmp_path: Path, column: str, value: str
) -> None:
    board = _crafted_board(tmp_path / "in" / "phantom-brain.arrow", **{column: value})
    before = _listing(tmp_path)
    proc = cli_in_process(
        "leaderboard", "merge", str(board), "--out", "out/merged.arrow", cwd=tmp_path
    )
    assert_one_message(proc)
    assert "row 0" in proc.stderr and column in proc.stderr
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=["dotdot", "absolute", "nul", "newline"])
def test_publish_refuses_a_crafted_run_id_and_writes_nothing(tmp_path: Path, value: str) -> None:
    _crafted_board(tmp_path / DEFAULT_BOARDS / "phantom-brain.arrow", run_id=value)
    before = _listing(tmp_path)
    proc = cli_in_process("leaderboard", "publish", "--out", "site", cwd=tmp_path)
    assert_one_message(proc)
    assert _listing(tmp_path) == before


@pytest.mark.slow
def test_publish_reads_no_file_that_a_symlink_brings_in_from_outside(
    work: Path, tmp_path: Path
) -> None:
    done = cli(
        "run", "--model", "identity", "--metrics", "psnr", *TINY_RUN, "--no-progress", cwd=work
    )
    assert done.returncode == 0, done.stderr
    run_dir = the_run_folder(work / "runs")
    secret = tmp_path / "private-scan.png"
    Image.new("L", (8, 8), 255).save(secret)
    (run_dir / "samples.png").unlink()
    os.symlink(secret, run_dir / "samples.png")
    secret_spec = tmp_path / "private.json"
    secret_spec.write_text(json.dumps({"precision": "fp32", "channels_last": False, "secret": "x"}))
    (run_dir / "spec.json").unlink()
    os.symlink(secret_spec, run_dir / "spec.json")

    proc = cli("leaderboard", "publish", "--out", "site", cwd=work)

    assert proc.returncode == 0, proc.stderr
    assert not (work / "site" / "runs" / run_dir.name / "samples.png").exists()
    page = (work / "site" / "runs" / f"{run_dir.name}.html").read_text()
    assert '"secret"' not in page and "secret" not in page


@pytest.mark.parametrize("name", ["../../outside", "/tmp/absolute", "a\\u0000b", "a\\nb", ".."])
def test_a_sweep_name_that_could_name_a_path_is_refused(tmp_path: Path, name: str) -> None:
    sweep = tmp_path / "s.toml"
    sweep.write_text(
        f'name = "{name}"\nbudget = "steps=1"\nmetrics = ["psnr"]\nseeds = [0]\n'
        'models = ["identity"]\ndatasets = ["phantom-brain"]\n'
    )
    before = _listing(tmp_path)
    proc = cli_in_process("sweep", str(sweep), "--no-progress", cwd=tmp_path)
    assert_one_message(proc, code=2)
    assert "plain file name" in proc.stderr
    assert _listing(tmp_path) == before


@pytest.mark.parametrize(
    "dataset", ["../outside", "/tmp/absolute", "a\nb"], ids=["dotdot", "absolute", "newline"]
)
def test_a_dataset_name_that_could_name_a_path_is_refused(tmp_path: Path, dataset: str) -> None:
    proc = cli_in_process("leaderboard", "show", "--dataset", dataset, cwd=tmp_path)
    assert_one_message(proc)
    assert "cannot be used as a leaderboard name" in proc.stderr


def test_a_dataset_name_with_a_nul_is_refused(tmp_path: Path) -> None:
    # A NUL cannot travel through a command line; a plugin or a notebook can pass one.
    with pytest.raises(LeaderboardError, match="cannot be used as a leaderboard name"):
        leaderboard_path(tmp_path, "a\x00b")


def _tiny_run_id() -> str:
    """The run id `medganbench run --model identity TINY_RUN --metrics psnr` gets: predictable,
    which is what makes a planted link at runs/<id> a threat."""
    registries = load_registries()
    spec = spec_from_options(
        registries, "identity", budget="steps=2", image_size=32, metrics="psnr",
        dataset_args=(TINY_RUN[3],),
    )  # fmt: skip
    return resolve_run(spec, registries).run_id


@pytest.mark.slow
def test_a_link_planted_at_the_run_folder_is_refused_before_training(
    work: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "runs").mkdir()
    (work / "runs" / _tiny_run_id()).symlink_to(outside)
    proc = cli("run", "--model", "identity", *TINY_RUN, "--metrics", "psnr", "--no-progress",
               cwd=work)  # fmt: skip
    assert_one_message(proc)
    assert "leads outside --runs-dir" in proc.stderr, proc.stderr
    assert list(outside.iterdir()) == []  # no checkpoint, result, spec or samples went there
    assert not (work / DEFAULT_BOARDS).exists()


@pytest.mark.slow
def test_a_planted_inputs_link_is_refused_by_export(work: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "ex").mkdir()
    (work / "ex" / "inputs").symlink_to(outside)
    proc = cli("datasets", "export", "phantom-brain", "--image-size", "32",
               "--dataset-arg", TINY_RUN[3], "--out", "ex", cwd=work)  # fmt: skip
    assert_one_message(proc)
    assert "leads outside --out" in proc.stderr, proc.stderr
    assert list(outside.iterdir()) == []
    assert _listing(work / "ex") == {"inputs"}


def test_a_linked_runs_folder_is_still_used_as_named(tmp_path: Path) -> None:
    shared = tmp_path / "shared-runs"
    (shared / "0123456789abcdef").mkdir(parents=True)
    (tmp_path / "runs").symlink_to(shared)  # --runs-dir on shared storage, through a link
    runs = tmp_path / "runs"
    assert not leads_outside(runs, runs / "0123456789abcdef")
    assert not leads_outside(runs, runs / "fedcba9876543210")  # not there yet: made inside
    (shared / "loop").symlink_to(shared / "loop")
    (shared / "up").symlink_to(shared)
    assert leads_outside(runs, runs / "loop") and leads_outside(runs, runs / "up")
