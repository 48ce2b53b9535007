"""Files under a data root: listing, names shown in messages, links, content hashes.

Everything here treats the data root as hostile: a file or patient folder that is a symbolic
link leading outside the root is refused (:func:`outside_root`), hidden bookkeeping files are
never data, and a file's identity is its content (:func:`content_hash`), not its name or date.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import xxhash

from medganbench.data.problems import InputProblems

#: Why a linked file or folder is not read.
LINKED_OUTSIDE = "a link leading outside the data root; not read"


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (the absolute path if it is outside)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def is_hidden(name: str) -> bool:
    """Operating-system bookkeeping (``.DS_Store``, ``._x.png``, ``__MACOSX``), never data."""
    return any(part.startswith(".") or part == "__MACOSX" for part in Path(name).parts)


def outside_root(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves (through any symbolic link) to a place outside ``root``."""
    try:
        return not path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop resolves to nothing: not inside either
        return True


def inside_or_reported(path: Path, root: Path, problems: InputProblems) -> bool:
    """``True`` if ``path`` stays inside ``root``; else the link is reported (strict: raised)."""
    if outside_root(path, root):
        problems.add(relative(path, root), LINKED_OUTSIDE)
        return False
    return True


def subfolders(folder: Path) -> list[Path]:
    """The visible sub-folders of ``folder``, sorted by name (links included; check them with
    :func:`inside_or_reported`)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_hidden(p.name))


def list_files(
    root: Path,
    matches: str | Callable[[Path], bool],
    problems: InputProblems,
    exclude: Path | None = None,
) -> list[Path]:
    """Files under ``root`` (recursively) that ``matches`` accepts, sorted.

    Args:
        root: the data root.
        matches: an fnmatch pattern of the file name, or a predicate of the path.
        problems: where a matching file that links outside ``root`` is reported.
        exclude: a folder to leave out (the cache directory, which the root lookup may name as
            the root itself).

    Hidden files and folders are left out.
    """
    accept = (lambda p: fnmatch.fnmatch(p.name, matches)) if isinstance(matches, str) else matches
    excluded = exclude.resolve() if exclude is not None else None
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or is_hidden(relative(path, root)) or not accept(path):
            continue
        if excluded is not None and path.resolve().is_relative_to(excluded):
            continue
        if inside_or_reported(path, root, problems):
            out.append(path)
    return out


def content_hash(path: Path) -> str:
    """32 hex digits of the xxh3-128 hash of a file's bytes, read in 1 MiB chunks.

    xxh3 runs at several GiB/s (docs/datasets.md has the figure measured here), so hashing every
    byte of a dataset costs seconds, not minutes. It is not a cryptographic hash: it guards
    against stale numbers from edited files, not against someone forging a collision.
    """
    digest = xxhash.xxh3_128()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_fingerprint(
    files: Iterable[Path], root: Path, extra: Mapping[str, Any] | None = None
) -> str:
    """16 hex digits of the sha256 of the sorted (relative path, size, content hash) list plus
    ``extra``.

    Every byte of every file is read (:func:`content_hash`): a file added, removed, renamed,
    resized or edited in place — same name, same size — changes the fingerprint, and with it
    the slice cache's key and the rows' ``dataset_fingerprint``.
    """
    listing = sorted(
        (str(Path(f).relative_to(root)), Path(f).stat().st_size, content_hash(Path(f)))
        for f in files
    )
    payload = json.dumps(
        {"files": listing, "extra": dict(extra or {})}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def fingerprint_extra(
    name: str, version: str, args: Mapping[str, Any], size: int
) -> dict[str, Any]:
    """What besides the files shapes a dataset's slices: name, version, image size and the
    arguments (the ``root`` location excluded: moving the data changes no result; ``dims`` at
    2 too: the slices served before the argument existed, so their fingerprints stay)."""
    return {
        "dataset": name,
        "version": version,
        "image_size": size,
        "args": {k: v for k, v in args.items() if k != "root" and not (k == "dims" and v == 2)},
    }


def anonymous_id(text: str, key: str = "") -> str:
    """12 hex digits of sha256 over ``key`` and ``text``: a stable id that does not show ``text``."""
    return hashlib.sha256(f"{key}\0{text}".encode()).hexdigest()[:12]


__all__ = [
    "LINKED_OUTSIDE",
    "anonymous_id",
    "content_hash",
    "files_fingerprint",
    "fingerprint_extra",
    "inside_or_reported",
    "is_hidden",
    "list_files",
    "outside_root",
    "relative",
    "subfolders",
]
