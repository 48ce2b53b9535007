"""The output folder of ``generate``, ``translate`` and ``export``: made if missing, never
written through a link."""

from __future__ import annotations

from pathlib import Path

from medganbench.errors import StorageError
from medganbench.fileio import writable_dir_problem


def prepare_out(out: Path) -> None:
    """Create ``out`` (and its parents) and check that files can be written into it.

    Raises:
        StorageError: ``out`` is a link, a file, or not writable.
    """
    if out.is_symlink():
        raise StorageError(
            f"--out {out} is a link; nothing is written through links.",
            hint="Name the real folder instead.",
        )
    problem = writable_dir_problem(out)
    if problem is not None:
        raise StorageError(f"--out {out}: {problem}.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"--out {out} cannot be created ({exc.strerror}).") from None


__all__ = ["prepare_out"]
