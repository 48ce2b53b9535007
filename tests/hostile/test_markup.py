"""Paths, labels and messages are data, never console markup.

rich reads ``[...]`` in a printed string as a style tag: a folder named ``lb[/]x`` made every
command that printed it crash with ``MarkupError`` *after* its rows or files were written (exit
1, a traceback, and a result the user believes lost). Every command here gets such a path (or
label) and must succeed, print it literally, and show no traceback.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.hostile.conftest import TINY_DATA, TINY_RUN, cli

#: A name rich would read as a closing tag.
ODD = "x[/]y"


def _ok(proc: subprocess.CompletedProcess[str], *shown: str) -> None:
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "MarkupError" not in proc.stderr, proc.stderr[-2000:]
    for text in shown:
        assert text in proc.stdout + proc.stderr, (text, proc.stdout[-2000:], proc.stderr[-2000:])


@pytest.mark.slow
def test_run_and_leaderboard_commands_print_bracketed_paths(work: Path) -> None:
    board_dir, runs_dir = f"lb-{ODD}", f"runs-{ODD}"
    run = cli(
        "run", "--model", "identity", *TINY_RUN, "--metrics", "psnr", "--no-progress",
        "--leaderboard-dir", board_dir, "--runs-dir", runs_dir, cwd=work,
    )  # fmt: skip
    _ok(run, board_dir, runs_dir)
    board = f"{board_dir}/phantom-brain.arrow"
    assert (work / board).exists()

    exported = cli(
        "leaderboard", "export", "-d", "phantom-brain", "--format", "csv",
        "--out", f"e-{ODD}.csv", "--leaderboard-dir", board_dir, cwd=work,
    )  # fmt: skip
    _ok(exported, f"e-{ODD}.csv")
    merged = cli("leaderboard", "merge", board, "--out", f"m-{ODD}.arrow", cwd=work)
    _ok(merged, f"m-{ODD}.arrow", board)
    published = cli(
        "leaderboard", "publish", "--out", f"site-{ODD}", "--leaderboard-dir", board_dir,
        "--runs-dir", runs_dir, cwd=work,
    )  # fmt: skip
    _ok(published, f"site-{ODD}")
    assert (work / f"site-{ODD}" / "index.html").exists()


@pytest.mark.slow
def test_export_and_score_print_bracketed_paths(work: Path) -> None:
    # The exported targets (domain B) are perfect a2b outputs: scoring them is a success.
    exported = cli(
        "datasets", "export", "phantom-brain", "--direction", "b2a", "--image-size", "32",
        "--dataset-arg", TINY_DATA, "--out", f"ex-{ODD}", cwd=work,
    )  # fmt: skip
    _ok(exported, f"ex-{ODD}")
    scored = cli(
        "score", "--dataset", "phantom-brain", "--image-size", "32", "--dataset-arg", TINY_DATA,
        "--outputs", f"ex-{ODD}/inputs", "--name", "my-net", "--metrics", "psnr",
        "--runs-dir", f"runs-{ODD}", "--leaderboard-dir", f"lb-{ODD}", cwd=work,
    )  # fmt: skip
    _ok(scored, f"runs-{ODD}", f"lb-{ODD}")


@pytest.mark.slow
def test_a_sweep_prints_bracketed_labels_paths_and_errors(work: Path, tmp_path: Path) -> None:
    missing = tmp_path / f"data-{ODD}"  # a root that does not exist: that trial fails
    (work / "s.toml").write_text(
        'name = "odd"\nbudget = "steps=2"\nimage_size = 32\nmetrics = ["psnr"]\nseeds = [0]\n'
        "datasets = [\n"
        '  { name = "phantom-brain", args = { train_subjects = 2, val_subjects = 2, '
        "test_subjects = 2, slices_per_subject = 2 } },\n"
        f'  {{ name = "paired-folder", args = {{ root = "{missing}" }} }},\n'
        "]\n"
        '[[models]]\nname = "identity"\nlabel = "id [/] [bold]x"\n'
    )
    dry = cli("sweep", "s.toml", "--dry-run", "--leaderboard-dir", f"lb-{ODD}", cwd=work)
    _ok(dry, "id [/] [bold]x")
    swept = cli(
        "sweep", "s.toml", "--no-progress", "--leaderboard-dir", f"lb-{ODD}",
        "--runs-dir", f"runs-{ODD}", cwd=work,
    )  # fmt: skip
    # One trial fails (its data are missing): exit 1, and every line printed as it is.
    assert swept.returncode == 1, swept.stderr[-2000:]
    assert "Traceback" not in swept.stderr and "MarkupError" not in swept.stderr, swept.stderr
    assert "id [/] [bold]x" in swept.stdout + swept.stderr
    assert f"runs-{ODD}" in swept.stderr and f"data-{ODD}" in swept.stdout + swept.stderr
    assert (work / f"lb-{ODD}" / "phantom-brain.arrow").exists()
