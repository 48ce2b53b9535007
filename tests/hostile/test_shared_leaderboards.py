"""Points 7 and 8: a leaderboard on shared storage stays shared, and a run is recorded once.

7. A leaderboard that is a symlink (to a file on shared storage) is updated where it points,
   by appends and merges alike, and the lock is taken there too.
8. The "already recorded" check is repeated under the lock at append time: the same spec run
   twice at once (both pass the check at their start) is recorded once.

A leaderboard that is a loop of symlinks is one message before a run trains, and from score and
merge --out (before: a RuntimeError traceback after training).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from medganbench.core.manager import Registries
from medganbench.errors import LeaderboardError
from medganbench.leaderboard.merge import merge_to_file
from medganbench.leaderboard.schema import SCHEMA
from medganbench.leaderboard.store import append_rows, leaderboard_path, read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.evaluate import evaluate
from medganbench.run.options import RunOptions
from medganbench.run.prepare import prepare
from medganbench.run.record import record
from medganbench.run.spec import RunSpec
from medganbench.run.train import train
from tests.folders import DEFAULT_BOARDS
from tests.hostile.conftest import TINY_DATA, TINY_RUN, assert_one_message, cli
from tests.leaderboard.rows import make_row, rid, write_raw


@pytest.fixture
def shared(tmp_path: Path) -> tuple[Path, Path]:
    """A leaderboard on 'shared storage' and a local symlink to it."""
    target = leaderboard_path(tmp_path / "shared", "phantom-brain")
    append_rows(target, [make_row(run_id="on-shared")])
    link = leaderboard_path(tmp_path / "local", "phantom-brain")
    link.parent.mkdir()
    os.symlink(target, link)
    return target, link


def test_an_append_through_a_symlink_updates_the_file_it_points_to(
    shared: tuple[Path, Path],
) -> None:
    target, link = shared
    append_rows(link, [make_row(run_id="appended-here")])
    assert link.is_symlink() and link.resolve() == target
    assert {r["run_id"] for r in read_leaderboard(target).to_pylist()} == {
        rid("on-shared"),
        rid("appended-here"),
    }
    assert (target.parent / f"{target.name}.lock").exists()


def test_a_merge_into_a_symlink_updates_the_file_it_points_to(
    shared: tuple[Path, Path], tmp_path: Path
) -> None:
    target, link = shared
    other = leaderboard_path(tmp_path / "other", "phantom-brain")
    append_rows(other, [make_row(run_id="from-another-machine")])
    merge_to_file([link, other], link)
    assert link.is_symlink()
    assert len(read_leaderboard(target)) == 2


def _spec() -> RunSpec:
    pairs = dict(p.split("=") for p in TINY_DATA.split(","))
    return RunSpec(model="identity", dataset_args=pairs, image_size=32, metrics=("psnr",),
                   budget=Budget(steps=2))  # fmt: skip


def test_the_same_spec_run_twice_at_once_is_recorded_once(
    registries: Registries, tmp_path: Path
) -> None:
    boards = tmp_path / "leaderboards"
    first = prepare(
        _spec(),
        registries,
        RunOptions(leaderboard_dir=boards, runs_dir=tmp_path / "r1", progress=False),
    )
    # The second copy starts before the first one is recorded: both pass the check at start.
    second = prepare(
        _spec(),
        registries,
        RunOptions(leaderboard_dir=boards, runs_dir=tmp_path / "r2", progress=False),
    )
    results = []
    for prepared in (first, second):
        trained = train(prepared)
        results.append((prepared, trained, evaluate(prepared, trained)))
    record(*results[0])
    with pytest.raises(LeaderboardError, match="recorded .* by another process"):
        record(*results[1])
    rows = read_leaderboard(leaderboard_path(boards, "phantom-brain")).to_pylist()
    # One run's rows: psnr per slice and per patient (eval_unit "volume"), once.
    assert len(rows) == 2 and {r["run_id"] for r in rows} == {first.run_id} == {second.run_id}
    assert (tmp_path / "r2" / second.run_id / "result.json").exists()


def _loop(board: Path) -> Path:
    board.parent.mkdir(parents=True, exist_ok=True)
    board.symlink_to(board.name)  # leaderboards/x.arrow -> x.arrow: a loop
    return board


@pytest.mark.slow
def test_a_leaderboard_that_is_a_symlink_loop_is_refused_before_training(work: Path) -> None:
    # Before: the run trained, then crashed in real_path with a RuntimeError traceback.
    _loop(work / DEFAULT_BOARDS / "phantom-brain.arrow")
    proc = cli("run", "--model", "identity", *TINY_RUN, "--metrics", "psnr", "--no-progress",
               cwd=work)  # fmt: skip
    assert_one_message(proc)
    assert "loop of symlinks" in proc.stderr, proc.stderr
    # Refused before anything was built or trained: runs/ holds only the boards' folder.
    assert [p.name for p in (work / "runs").iterdir()] == [DEFAULT_BOARDS.name]


@pytest.mark.slow
def test_score_and_merge_refuse_a_leaderboard_that_is_a_symlink_loop(work: Path) -> None:
    exported = cli("datasets", "export", "phantom-brain", "--direction", "b2a", "--image-size",
                   "32", "--dataset-arg", TINY_DATA, "--out", "ex", cwd=work)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    _loop(work / DEFAULT_BOARDS / "phantom-brain.arrow")
    scored = cli("score", "--dataset", "phantom-brain", "--image-size", "32", "--dataset-arg",
                 TINY_DATA, "--outputs", "ex/inputs", "--name", "my-net", "--metrics", "psnr",
                 cwd=work)  # fmt: skip
    assert_one_message(scored)
    assert "loop of symlinks" in scored.stderr, scored.stderr
    assert [p.name for p in (work / "runs").iterdir()] == [DEFAULT_BOARDS.name]

    write_raw(work / "a.arrow", pa.Table.from_pylist([make_row()], schema=SCHEMA))
    merged = cli("leaderboard", "merge", "a.arrow", "--out", "runs/leaderboards/phantom-brain.arrow",
                 cwd=work)  # fmt: skip
    assert_one_message(merged)
    assert "loop of symlinks" in merged.stderr, merged.stderr
