"""The on-disk slice cache: decoded, resized slices stored under a content-hash key.

A second run of the same data starts in seconds. The key holds everything that shapes the
slices — the dataset's name and version, its fingerprint (which hashes every byte of the files),
the image size and the arguments — so an edited file or a changed argument gives a fresh cache,
never stale numbers. Cache files are written atomically and read with ``weights_only=True``
(tensors and plain values only: a planted cache file cannot run code); an unreadable one is
rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from medganbench.fileio import atomic_write

log = logging.getLogger(__name__)

#: Layout version of the cache files (a mismatch means "rebuild"; 2: the toolkit's payloads).
CACHE_FORMAT = 2


def cache_path(cache_dir: Path, key: Mapping[str, Any], prefix: str = "slices") -> Path:
    """The file that holds the payload of ``key`` under ``cache_dir``."""
    digest = hashlib.sha256(
        json.dumps({"format": CACHE_FORMAT, **dict(key)}, sort_keys=True, default=str).encode()
    ).hexdigest()[:24]
    return Path(cache_dir) / f"{prefix}-{digest}.pt"


def cached(
    cache_dir: Path, key: Mapping[str, Any], build: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Load the payload stored under ``key``, or build, store (atomically) and return it.

    Args:
        cache_dir: directory of the cache files (created on demand).
        key: everything that shapes the payload; hashed into the file name.
        build: produces the payload (a dict of tensors, lists, numbers and strings).

    Returns:
        (payload, whether it came from the cache).
    """
    path = cache_path(cache_dir, key)
    if path.is_file():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(payload, dict):
                return payload, True
        except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt, never trusted
            log.warning("Ignoring an unreadable slice cache file %s.", path.name)
    payload = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: torch.save(payload, f))
    except OSError as exc:  # a cache that cannot be written only costs a rebuild next time
        log.warning("Could not write the slice cache %s: %s", path, exc)
    return payload, False


__all__ = ["CACHE_FORMAT", "cache_path", "cached"]
