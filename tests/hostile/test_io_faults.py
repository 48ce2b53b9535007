"""Point 5: every I/O fault is one message, exit 1, and nothing is lost.

The full disk and the read-only folder are real: a tmpfs of a few kilobytes, or mounted read-only,
in a mount namespace of the command's own (see ``cli_with_mount``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from medganbench.leaderboard.store import append_rows, leaderboard_path, read_leaderboard
from tests.folders import DEFAULT_BOARDS, the_run_folder
from tests.hostile.conftest import (
    TINY_RUN,
    assert_one_message,
    cli,
    cli_with_mount,
    needs_namespaces,
)
from tests.leaderboard.rows import make_row

RUN = ("run", "--model", "identity", "--metrics", "psnr", *TINY_RUN, "--no-progress")


@pytest.mark.slow
@needs_namespaces
def test_a_read_only_leaderboard_folder_is_refused_before_training(work: Path) -> None:
    proc = cli_with_mount("ro,size=64k", work / DEFAULT_BOARDS, *RUN, cwd=work)
    assert_one_message(proc)
    assert "--leaderboard-dir" in proc.stderr and "not writable" in proc.stderr
    assert "trained" not in proc.stderr


@pytest.mark.slow
@needs_namespaces
def test_a_full_disk_after_training_keeps_the_result_and_says_how_to_record_it(
    work: Path,
) -> None:
    # 4 KiB holds the leaderboard's lock file, not the leaderboard.
    proc = cli_with_mount("size=4k", work / DEFAULT_BOARDS, *RUN, cwd=work)
    assert_one_message(proc)
    assert "No space left on device" in proc.stderr and "trained" in proc.stderr
    run_dir = the_run_folder(work / "runs")
    assert f"runs/{run_dir.name}/result.json" in proc.stderr.replace("\n", "")
    assert json.loads((run_dir / "result.json").read_text())["run_id"] == run_dir.name
    # The command the message gives records the run, once the disk has room again.
    command = proc.stderr.split("record it without training again: ", 1)[1].split()
    assert command[:3] == ["medganbench", "run", "--resume"]
    recorded = cli(*command[1:], "--no-progress", cwd=work)
    assert recorded.returncode == 0, recorded.stderr
    assert "trained 2 steps" in recorded.stderr  # nothing trained again: the ledger says 2
    rows = read_leaderboard(leaderboard_path(work / DEFAULT_BOARDS, "phantom-brain")).to_pylist()
    assert {r["run_id"] for r in rows} == {run_dir.name}


@pytest.mark.slow
def test_a_leaderboard_dir_that_is_a_file_is_refused_before_training(work: Path) -> None:
    (work / "boards").write_text("not a folder")
    proc = cli(*RUN, "--leaderboard-dir", "boards", cwd=work)
    assert_one_message(proc)
    assert "--leaderboard-dir boards cannot be used" in proc.stderr and "is a file" in proc.stderr
    assert "trained" not in proc.stderr


@pytest.mark.slow
def test_a_runs_dir_that_is_a_file_is_refused_before_training(work: Path) -> None:
    (work / "runs").write_text("not a folder")
    proc = cli(*RUN, cwd=work)
    assert_one_message(proc)
    assert "--runs-dir runs cannot be used" in proc.stderr
    assert not (work / DEFAULT_BOARDS).exists()


@pytest.mark.slow
def test_folders_whose_names_are_not_utf8_work(work: Path) -> None:
    board_dir, runs_dir = os.fsdecode(b"boards-\xff"), os.fsdecode(b"runs-\xfe")
    proc = cli(*RUN, "--leaderboard-dir", board_dir, "--runs-dir", runs_dir, cwd=work)
    assert proc.returncode == 0, proc.stderr
    shown = cli("leaderboard", "show", "--leaderboard-dir", board_dir, cwd=work)
    assert shown.returncode == 0 and "identity" in shown.stdout, shown.stderr


def _png_bomb(path: Path, side: int = 60_000) -> None:
    """A grey PNG that declares side × side pixels in a few kilobytes (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        )

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    row = b"\x00" + b"\x00" * side
    body = zlib.compressobj(9)
    data = b"".join(body.compress(row) for _ in range(64)) + body.flush()  # truncated: 64 rows
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


@pytest.mark.slow
def test_a_sample_grid_that_is_a_decompression_bomb_is_skipped_by_publish(work: Path) -> None:
    done = cli(*RUN, cwd=work)
    assert done.returncode == 0, done.stderr
    run_dir = the_run_folder(work / "runs")
    _png_bomb(run_dir / "samples.png")
    proc = cli("leaderboard", "publish", "--out", "site", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (work / "site" / "runs" / run_dir.name / "samples.png").exists()


@pytest.mark.slow
def test_an_image_file_that_is_a_decompression_bomb_is_one_message(work: Path) -> None:
    from PIL import Image

    for split in ("train", "test"):
        for side in ("A", "B"):
            folder = work / "data" / side / split
            folder.mkdir(parents=True)
            for i in range(2):
                Image.new("L", (32, 32), 100 + 20 * i).save(folder / f"s{i}.png")
    _png_bomb(work / "data" / "B" / "test" / "s0.png")
    proc = cli(
        "run", "--model", "identity", "--dataset", "paired-folder", "--dataset-arg", "root=data",
        "--image-size", "32", "--budget", "steps=1", "--metrics", "psnr", "--no-progress", cwd=work,
    )  # fmt: skip
    assert_one_message(proc)
    assert "s0.png" in proc.stderr and "refused" in proc.stderr
    assert "MEDGANBENCH_MAX_IMAGE_SIDE" in proc.stderr


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_temporary_files_of_dead_writers_are_removed_by_the_next_write(tmp_path: Path) -> None:
    board = leaderboard_path(tmp_path, "phantom-brain")
    append_rows(board, [make_row(run_id="first")])
    host = "".join(c if c.isalnum() or c == "-" else "_" for c in socket.gethostname())
    dead = tmp_path / f".{board.name}.{host}.{_dead_pid()}.0123abcd.tmp"
    dead.write_bytes(b"half of a leaderboard")
    alive = tmp_path / f".{board.name}.{host}.{os.getpid()}.4567ef01.tmp"
    alive.write_bytes(b"another writer, still at work")
    append_rows(board, [make_row(run_id="second")])
    assert not dead.exists() and alive.exists()
