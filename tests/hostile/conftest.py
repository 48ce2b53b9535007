"""Shared pieces of the hostile-input tests: a tiny run on the phantom, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: A phantom small enough that a whole CLI run takes a few seconds.
TINY_DATA = "train_subjects=2,val_subjects=2,test_subjects=2,slices_per_subject=2"
TINY_RUN = ("--image-size", "32", "--dataset-arg", TINY_DATA, "--budget", "steps=2")


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m medganbench ARGS`` in ``cwd``; never raises for a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "medganbench", *args],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def assert_one_message(proc: subprocess.CompletedProcess[str], code: int = 1) -> None:
    """Exit ``code``, exactly one ``error:`` line, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.count("error:") == 1, proc.stderr[-2000:]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """An empty working folder for CLI runs."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder
