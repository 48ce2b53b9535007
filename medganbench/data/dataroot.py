"""Where a downloadable dataset's files are: one lookup order and one message when they are not.

Datasets that are not ours to redistribute (Kaggle, challenge data) are read from a root that
:func:`find_root` looks for, in order:

1. ``--data-dir`` (``DatasetContext.data_dir``);
2. the environment variable ``MEDGANBENCH_DATA_<NAME>`` (hyphens become underscores);
3. the dataset's cache directory (``$MEDGANBENCH_HOME/datasets/<name>``), where
   ``medganbench datasets download`` puts them.

A ``root`` dataset argument, when given, replaces that list: the user named the folder, so no
other place is tried. A candidate counts only if the caller's ``looks_valid`` accepts it, so an
empty or wrong folder is reported rather than read as an empty dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from medganbench.core.dataset import DatasetContext
from medganbench.errors import DataError


def env_var(name: str) -> str:
    """``MEDGANBENCH_DATA_<NAME>`` for dataset ``name``."""
    return "MEDGANBENCH_DATA_" + name.upper().replace("-", "_")


def candidates(name: str, ctx: DatasetContext, explicit: str = "") -> list[tuple[str, Path]]:
    """(how it was named, path) for every place the root may be, in lookup order."""
    if explicit:
        return [("--dataset-arg root", Path(explicit).expanduser())]
    out: list[tuple[str, Path]] = []
    if ctx.data_dir is not None:
        out.append(("--data-dir", Path(ctx.data_dir).expanduser()))
    if os.environ.get(env_var(name)):
        out.append((env_var(name), Path(os.environ[env_var(name)]).expanduser()))
    out.append(("cache", Path(ctx.cache_dir)))
    return out


def locate_root(
    name: str, ctx: DatasetContext, looks_valid: Callable[[Path], bool], explicit: str = ""
) -> Path | None:
    """The first candidate ``looks_valid`` accepts, or ``None`` (``explicit``: the root argument)."""
    for _, path in candidates(name, ctx, explicit):
        if path.is_dir() and looks_valid(path):
            return path
    return None


def find_root(
    name: str,
    ctx: DatasetContext,
    looks_valid: Callable[[Path], bool],
    instructions: str,
    explicit: str = "",
) -> Path:
    """Like :func:`locate_root`, but a missing root is one clear :class:`DataError`.

    Args:
        name: dataset name.
        ctx: the dataset context.
        looks_valid: whether a directory holds the expected layout.
        instructions: how to obtain the files (exact commands), shown in the error.
        explicit: the dataset's ``root`` argument; if set, the only candidate.

    Raises:
        DataError: no candidate holds the dataset; the message lists where it looked.
    """
    root = locate_root(name, ctx, looks_valid, explicit)
    if root is not None:
        return root
    looked = "\n".join(
        f"  - {how}: {path} ({'no such directory' if not path.is_dir() else 'not the expected layout'})"
        for how, path in candidates(name, ctx, explicit)
    )
    raise DataError(
        f"Dataset {name!r} was not found. Looked in:\n{looked}",
        hint=f"{instructions}\nThen pass --data-dir DIR, set {env_var(name)}=DIR, or put the files in {ctx.cache_dir}.",
    )
