"""Datasets of 2-D image files: decoded once, cached, served as slices.

:func:`load_folders` turns a folder layout (:mod:`~medganbench.data.image_listing`) into a
dataset; :func:`image_payload` and :func:`serve_images` are its two halves, usable by any
source that lists :class:`~medganbench.data.image_files.ImageRef` items by split (a zip archive
of images, for one). PNG/JPEG exports carry no physical units, only 8-bit display values:
domains say so (:data:`DISPLAY_UNITS`). Every delivered file's split is recorded, and written
beside the slice cache (:func:`write_record`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from medganbench import progress
from medganbench.core.dataset import SPLITS, DatasetContext, DatasetInfo, DomainInfo
from medganbench.data.cache import cached
from medganbench.data.files import files_fingerprint, fingerprint_extra
from medganbench.data.image_files import ImageFileError, ImageReader, ImageRef
from medganbench.data.image_listing import (
    FolderSettings,
    Item,
    assign,
    list_domain,
    pair_listings,
)
from medganbench.data.intensity import body_mask
from medganbench.data.problems import InputProblems, from_records, warn_problems
from medganbench.data.serve import DomainSlices, SlicesDataset, SliceSplit
from medganbench.fileio import atomic_write

log = logging.getLogger(__name__)

#: Units of 8-bit image exports: display values, not physical units.
DISPLAY_UNITS = "8-bit display value"
#: How the items feed the domains: pairs ("paired", items under "ab"), two independent domains
#: ("unpaired", items under "a" and "b"), or one domain delivered as both A and B ("same").
Mode = Literal["paired", "unpaired", "same"]


def _stack(images: Sequence[torch.Tensor], channels: int, size: int) -> torch.Tensor:
    if not images:
        return torch.empty(0, channels, size, size)
    return torch.stack([i.float() for i in images])


def decode_items(
    items: Iterable[Item],
    root: Path,
    size: int,
    channels: int,
    problems: InputProblems,
    reader: ImageReader,
) -> list[tuple[tuple[ImageRef, ...], list[torch.Tensor]]]:
    """Decode each item's images; an item with any bad image is reported and left out."""
    out = []
    for _, refs in items:
        images = []
        for ref in refs:
            try:
                images.append(reader.read(ref, size, channels))
            except ImageFileError as exc:
                problems.add(ref.where(root), exc.message)
                break
        if len(images) == len(refs):
            out.append((refs, images))
    return out


def image_payload(
    split_items: Mapping[str, Mapping[str, Sequence[Item]]],
    root: Path,
    size: int,
    channels: int,
    windows: Mapping[str, tuple[float, float]],
    mode: Mode,
    strict: bool,
) -> dict[str, Any]:
    """Decode every split: the payload the slice cache stores.

    Args:
        split_items: ``{"ab": {split: items}}`` for pairs, ``{"a": ..., "b": ...}`` for two
            domains, ``{"a": ...}`` for one domain delivered as both.
        windows: domain key → window (for the body masks).
        mode: see :data:`Mode`.

    Returns:
        ``splits`` (split → ``a``, ``b``, ``mask_a``, ``mask_b``), ``record`` (file → split),
        ``problems``.
    """
    problems = InputProblems(strict=strict)
    record: dict[str, str] = {}
    splits: dict[str, dict[str, torch.Tensor]] = {}
    total = sum(len(items) for by_split in split_items.values() for items in by_split.values())
    shown = progress.phase("decoding images", total=total, unit="items")
    with ImageReader() as reader, shown as phase:
        for split in SPLITS:
            tensors: dict[str, torch.Tensor] = {}
            feeds = ("ab",) if mode == "paired" else ("a",) if mode == "same" else ("a", "b")
            for feed in feeds:
                kept = decode_items(
                    split_items[feed][split], root, size, channels, problems, reader
                )
                phase.advance(len(split_items[feed][split]))
                record.update({ref.where(root): split for refs, _ in kept for ref in refs})
                for k, key in enumerate(feed):
                    tensors[key] = _stack([images[k] for _, images in kept], channels, size)
                    tensors[f"mask_{key}"] = body_mask(tensors[key], windows[key])
            if mode == "paired":
                # One mask for both: the union, so neither domain's dark tissue is cut away.
                mask = tensors["mask_a"] | tensors["mask_b"]
                tensors["mask_a"], tensors["mask_b"] = mask, mask.clone()
            if mode == "same":
                tensors["b"], tensors["mask_b"] = tensors["a"], tensors["mask_a"]
            splits[split] = tensors
    return {"splits": splits, "record": record, "problems": problems.records()}


def serve_images(
    payload: Mapping[str, Any],
    info: DatasetInfo,
    fingerprint: str,
    problems: Sequence[tuple[str, str]] = (),
    from_cache: bool = False,
) -> SlicesDataset:
    """The dataset of an :func:`image_payload` (``problems``: those found while listing)."""
    splits = {
        name: SliceSplit(
            DomainSlices(t["a"], t["mask_a"]), DomainSlices(t["b"], t["mask_b"]), info.paired
        )
        for name, t in payload["splits"].items()
    }
    found = [*problems, *from_records(payload["problems"])]
    return SlicesDataset(info, splits, fingerprint, payload["record"], found, from_cache)


@dataclass
class FolderSource:
    """Everything needed to load one folder dataset instance.

    Attributes:
        name: the dataset name (messages, cache key).
        version: the dataset version (cache key, fingerprint).
        root: the data root.
        settings: the typed arguments.
        args: the resolved arguments (they enter the fingerprint, except ``root``).
        paired: pair A and B by stem.
        a_name/b_name: human names of the domains.
        problems: problems already found by the caller (e.g. a count mismatch).
    """

    name: str
    version: str
    root: Path
    settings: FolderSettings
    args: Mapping[str, Any]
    paired: bool
    a_name: str = ""
    b_name: str = ""
    problems: InputProblems = field(default_factory=InputProblems)

    def info(self, size: int) -> DatasetInfo:
        """The declared facts: both domains in 8-bit display values."""
        s = self.settings
        a = DomainInfo(
            self.a_name or f"{s.a_modality} ({s.a_dir})",
            s.a_modality,
            DISPLAY_UNITS,
            s.a_window,
            s.channels,
        )
        b = DomainInfo(
            self.b_name or f"{s.b_modality} ({s.b_dir})",
            s.b_modality,
            DISPLAY_UNITS,
            s.b_window,
            s.channels,
        )
        return DatasetInfo(a, b, self.paired, SPLITS, size)


def load_folders(source: FolderSource, ctx: DatasetContext) -> SlicesDataset:
    """List, split, decode (or load from the slice cache) and serve a folder dataset.

    Raises:
        DataError: missing folders, an empty folder, or (strict) any bad or unmatched file.
    """
    s, root, problems = source.settings, source.root, source.problems
    a_list = list_domain(root, s.a_dir, s.split_by, problems)
    b_list = list_domain(root, s.b_dir, s.split_by, problems)
    if source.paired:
        split_items = {"ab": assign(pair_listings(a_list, b_list, root, problems), s)}
    else:
        split_items = {"a": assign(a_list, s), "b": assign(b_list, s)}
    files = sorted(
        {
            ref.file
            for by_split in split_items.values()
            for items in by_split.values()
            for _, refs in items
            for ref in refs
        }
    )
    extra = fingerprint_extra(source.name, source.version, source.args, ctx.image_size)
    fingerprint = files_fingerprint(files, root, extra=extra)
    cache_dir = Path(ctx.cache_dir) / "slices"
    windows = {"a": s.a_window, "b": s.b_window}
    mode: Mode = "paired" if source.paired else "unpaired"
    # The root is in the cache key (not the fingerprint): two trees with equal names and sizes
    # but different pixels must not share slices, while moving the data changes no result.
    key = {**extra, "fingerprint": fingerprint, "root": str(root.resolve())}
    payload, hit = cached(
        cache_dir,
        key,
        lambda: image_payload(
            split_items, root, ctx.image_size, s.channels, windows, mode, s.strict
        ),
    )
    dataset = serve_images(
        payload, source.info(ctx.image_size), fingerprint, problems.problems, hit
    )
    warn_problems(source.name, dataset.problems)
    write_record(cache_dir / f"split-record-{fingerprint}.json", dataset)
    return dataset


def write_record(path: Path, dataset: SlicesDataset) -> None:
    """Keep the split record (file → split) beside the slice cache; a failed write only warns.

    The record names files relative to the data root and never the root itself (a local path
    can name a person).
    """
    body = {
        "fingerprint": dataset.fingerprint(),
        "splits": dataset.split_record,
        "problems": dataset.problems,
    }
    try:
        atomic_write(path, lambda f: f.write(json.dumps(body, indent=1, sort_keys=True).encode()))
    except OSError as exc:
        log.warning("Could not write the split record %s: %s", path, exc)


__all__ = [
    "DISPLAY_UNITS",
    "FolderSource",
    "Mode",
    "decode_items",
    "image_payload",
    "load_folders",
    "serve_images",
    "write_record",
]
