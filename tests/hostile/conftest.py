"""Shared pieces of the hostile-input tests: a tiny run on the phantom, the CLI in a subprocess."""

from __future__ import annotations

import os
import shlex
import shutil
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
        errors="replace", timeout=timeout, check=False,
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


def _namespaces_work() -> bool:
    """Whether this machine lets a process mount a file system in a namespace of its own."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True, check=False,
    )  # fmt: skip
    return probe.returncode == 0


NAMESPACES = _namespaces_work()
needs_namespaces = pytest.mark.skipif(
    not NAMESPACES,
    reason="needs `unshare -rm` (mount namespaces) to give a folder a real full or read-only "
    "file system; unavailable on this machine",
)


def cli_with_mount(
    mount: str, folder: Path, *args: str, cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m medganbench ARGS`` with a fresh tmpfs (``mount`` options) mounted on ``folder``,
    in a mount namespace of the command's own: a real full disk or read-only folder, without
    touching the machine's mounts."""
    folder.mkdir(parents=True, exist_ok=True)
    command = (
        f"mount -t tmpfs -o {shlex.quote(mount)} tmpfs {shlex.quote(str(folder))} && exec "
        + shlex.join([sys.executable, "-m", "medganbench", *args])
    )
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", command],
        cwd=cwd, env=os.environ.copy(), capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
