"""Point 3: no stale numbers — the dataset fingerprint and the slice cache follow file content.

An image edited in place, with the same name and the same byte size, must give another
fingerprint (so its rows are never ranked with the old data's) and a fresh slice cache (so the
edit is what the model sees).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from medganbench.core.dataset import DatasetContext
from medganbench.data import SlicesDataset as FolderDataset
from medganbench_plugins.datasets.image_folders import paired_folder

SIZE = 32


def _uncompressed_png(path: Path, value: int) -> None:
    """A PNG whose byte size depends on its shape only (no compression)."""
    pixels = np.full((32, 32), 30, dtype=np.uint8)
    pixels[8:24, 8:24] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, compress_level=0)


def _tree(root: Path) -> Path:
    for split in ("train", "test"):
        for side in ("A", "B"):
            for i in range(3):
                _uncompressed_png(root / side / split / f"x{i}.png", 100 + 10 * i)
    return root


def _load(root: Path, cache: Path) -> FolderDataset:
    dataset = paired_folder({"root": str(root)}, DatasetContext(SIZE, cache))
    assert isinstance(dataset, FolderDataset)
    return dataset


def _brightest(dataset: FolderDataset, split: str) -> float:
    return float(dataset.split(split).b.max())


def test_an_image_edited_in_place_changes_the_fingerprint_and_the_cache(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    cache = tmp_path / "cache"
    before = _load(root, cache)
    edited = root / "B" / "test" / "x0.png"
    size = edited.stat().st_size
    _uncompressed_png(edited, 250)  # same name, same byte size, other pixels
    assert edited.stat().st_size == size

    after = _load(root, cache)

    assert after.fingerprint() != before.fingerprint()
    assert not after.from_cache, "the slice cache of the old content was reused"
    assert _brightest(after, "test") > _brightest(before, "test")
    assert not torch.equal(after.split("test").b, before.split("test").b)


def test_an_unchanged_tree_still_hits_the_cache(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    first = _load(root, tmp_path / "cache")
    second = _load(root, tmp_path / "cache")
    assert second.from_cache and second.fingerprint() == first.fingerprint()
