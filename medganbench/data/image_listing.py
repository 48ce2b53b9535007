"""Folders of 2-D image files: layouts, pairing by file stem, and splits by group.

A domain folder holds split folders (``A/train``, ``A/val``, ``A/test``), or names them with a
``{split}`` placeholder (``{split}A`` reads ``trainA`` and ``testA``: the CycleGAN/Kaggle
layout), or holds all its files, which are then split by ``val_fraction``/``test_fraction``
(seeded). A missing ``val`` folder is carved from ``train``. Splitting is by file, or by the
group a regular expression (``group_by``) finds in the file stem, so slices of one patient stay
together. Paired domains match files by stem (``x.png`` with ``x.jpg``); a stem found on one
side only is a problem (strict: an error naming it; lenient: skipped and counted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medganbench.core.dataset import SPLITS
from medganbench.data.files import is_hidden, relative
from medganbench.data.image_files import ImageRef, list_images
from medganbench.data.intensity import parse_window
from medganbench.data.problems import InputProblems
from medganbench.data.splits import assign_splits
from medganbench.errors import DataError, UsageError

SPLIT_PLACEHOLDER = "{split}"

#: One delivered item: its stem (the pairing key) and one image per domain it feeds (one for
#: an unpaired domain, (A, B) for a pair).
Item = tuple[str, tuple[ImageRef, ...]]
#: split name → items; the key ``None`` means "not split yet" (the ratio layout).
Listing = dict[str | None, list[Item]]


@dataclass(frozen=True)
class FolderSettings:
    """The typed arguments of a folder dataset."""

    a_dir: str
    b_dir: str
    split_by: str = "auto"
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0
    group_by: str = ""
    a_modality: str = "MR"
    b_modality: str = "CT"
    a_window: tuple[float, float] = (0.0, 255.0)
    b_window: tuple[float, float] = (0.0, 255.0)
    channels: int = 1
    strict: bool = True

    @classmethod
    def from_args(cls, args: Mapping[str, Any], owner: str) -> FolderSettings:
        """Read resolved arguments (those of :func:`~medganbench.data.image_source.folder_params`).

        Raises:
            UsageError: see :meth:`check`; a window is not ``lo,hi`` with lo < hi.
        """
        settings = cls(
            a_dir=str(args["a_dir"]),
            b_dir=str(args["b_dir"]),
            split_by=str(args["split_by"]),
            val_fraction=float(args["val_fraction"]),
            test_fraction=float(args["test_fraction"]),
            seed=int(args["seed"]),
            group_by=str(args["group_by"]),
            a_modality=str(args["a_modality"]),
            b_modality=str(args["b_modality"]),
            a_window=parse_window(str(args["a_window"]), "a_window", owner),
            b_window=parse_window(str(args["b_window"]), "b_window", owner),
            channels=int(args["channels"]),
            strict=bool(args["strict"]),
        )
        settings.check(owner)
        return settings

    def check(self, owner: str) -> None:
        """Raise :class:`UsageError` for inconsistent settings: the fractions leave no training
        data, ``group_by`` is not a regular expression, or ``{split}`` is used with
        ``split_by=ratios``."""
        if self.val_fraction + self.test_fraction >= 1.0:
            raise UsageError(f"{owner}: val_fraction + test_fraction must be below 1.")
        if self.split_by == "ratios" and SPLIT_PLACEHOLDER in self.a_dir + self.b_dir:
            raise UsageError(
                f"{owner}: split_by=ratios cannot be used with a {SPLIT_PLACEHOLDER} folder name."
            )
        if self.group_by:
            try:
                re.compile(self.group_by)
            except re.error as exc:
                raise UsageError(
                    f"{owner}: group_by {self.group_by!r} is not a regular expression: {exc}"
                ) from None


def domain_present(root: Path, pattern: str) -> bool:
    """Whether ``root`` holds the domain folder ``pattern`` (its train folder for ``{split}``)."""
    if SPLIT_PLACEHOLDER in pattern:
        return (root / pattern.replace(SPLIT_PLACEHOLDER, "train")).is_dir()
    return (root / pattern).is_dir()


def split_folders(root: Path, pattern: str, split_by: str) -> dict[str, Path] | None:
    """The existing split folders of one domain, or ``None`` for the ratio layout.

    Raises:
        DataError: split folders are required (``{split}`` or ``split_by=folders``) but there
            is no train or test folder, or the domain folder does not exist.
    """
    if SPLIT_PLACEHOLDER in pattern:
        folders = {s: root / pattern.replace(SPLIT_PLACEHOLDER, s) for s in SPLITS}
    else:
        if not (root / pattern).is_dir():
            raise DataError(
                f"Domain folder {root / pattern} does not exist.",
                hint="Set a_dir/b_dir to the folder names under root.",
            )
        folders = {s: root / pattern / s for s in SPLITS}
        if split_by == "ratios" or (split_by == "auto" and not folders["train"].is_dir()):
            return None
    if not folders["train"].is_dir():
        raise DataError(
            f"Training folder {folders['train']} does not exist.",
            hint="Expected train/ (and test/, optionally val/) folders, or use split_by=ratios.",
        )
    if not folders["test"].is_dir():
        raise DataError(
            f"Test folder {folders['test']} does not exist.",
            hint="Add a test folder, or use split_by=ratios to split the files.",
        )
    return {s: f for s, f in folders.items() if f.is_dir()}


def list_domain(root: Path, pattern: str, split_by: str, problems: InputProblems) -> Listing:
    """Image files of one domain by split folder (key ``None`` for the ratio layout)."""
    folders = split_folders(root, pattern, split_by)
    if folders is None:
        return {None: _items(list_images(root / pattern, problems, root))}
    if SPLIT_PLACEHOLDER not in pattern:  # files beside the split folders would be ignored
        for entry in sorted((root / pattern).iterdir()):
            if entry.name not in SPLITS and not is_hidden(entry.name):
                problems.add(
                    relative(entry, root), "beside the split folders train/val/test; not read"
                )
    return {s: _items(list_images(folder, problems, root)) for s, folder in folders.items()}


def _items(files: Sequence[Path]) -> list[Item]:
    return [(f.stem, (ImageRef(f),)) for f in files]


def pair_listings(a: Listing, b: Listing, root: Path, problems: InputProblems) -> Listing:
    """Match A and B items by stem within each split folder.

    Raises:
        DataError: A and B have different split folders; in strict mode also an unmatched
            or ambiguous stem (the message names it).
    """
    if set(a) != set(b):
        raise DataError(
            f"Domains A and B have different split folders (A: {_names(a)}; B: {_names(b)})."
        )
    return {key: _pair(a[key], b[key], root, problems) for key in a}


def _names(listing: Listing) -> str:
    return ", ".join(sorted(str(k) for k in listing)) or "none"


def _pair(a: list[Item], b: list[Item], root: Path, problems: InputProblems) -> list[Item]:
    by_a, by_b = _by_stem(a, root, problems), _by_stem(b, root, problems)
    for stem in sorted(set(by_a) ^ set(by_b)):
        ref, other = (by_a[stem], "B") if stem in by_a else (by_b[stem], "A")
        problems.add(ref.where(root), f"no {other} file with stem {stem!r} to pair with")
    return [(stem, (by_a[stem], by_b[stem])) for stem in sorted(set(by_a) & set(by_b))]


def _by_stem(items: list[Item], root: Path, problems: InputProblems) -> dict[str, ImageRef]:
    """Stem → image; a stem shared by two files (``x.png``, ``x.jpg``) cannot be paired."""
    out: dict[str, ImageRef] = {}
    for stem, (ref,) in items:
        if stem in out:
            problems.add(
                ref.where(root),
                f"stem {stem!r} also used by {out[stem].file.name}; pairing is ambiguous",
            )
            continue
        out[stem] = ref
    return out


def assign(listing: Listing, settings: FolderSettings) -> dict[str, list[Item]]:
    """Items by split: ratio layout split by fractions; a missing val carved from train.

    Splitting is by group (see :func:`group_of`), seeded with ``settings.seed``.
    """
    vf, tf = settings.val_fraction, settings.test_fraction
    if None in listing:
        return cut(listing[None], (1.0 - vf - tf, vf, tf), settings.seed, settings.group_by)
    out = {s: list(listing.get(s, [])) for s in SPLITS}
    if "val" not in listing and vf > 0:
        carved = cut(out["train"], (1.0 - vf, vf, 0.0), settings.seed, settings.group_by)
        out["train"], out["val"] = carved["train"], carved["val"]
    return out


def cut(
    items: list[Item], ratios: tuple[float, float, float], seed: int, group_by: str = ""
) -> dict[str, list[Item]]:
    """Items split by group (:func:`group_of` of their stems) with ``ratios`` and ``seed``."""
    groups = {stem: group_of(stem, group_by) for stem, _ in items}
    where = assign_splits(groups.values(), ratios, seed)
    out: dict[str, list[Item]] = {s: [] for s in SPLITS}
    for item in items:
        out[where[groups[item[0]]]].append(item)
    return out


def group_of(stem: str, pattern: str) -> str:
    """The group id of a file: the first match of ``pattern`` in its stem, else the stem."""
    if pattern:
        match = re.search(pattern, stem)
        if match:
            return match.group(0)
    return stem


__all__ = [
    "SPLIT_PLACEHOLDER",
    "FolderSettings",
    "Item",
    "Listing",
    "assign",
    "cut",
    "domain_present",
    "group_of",
    "list_domain",
    "pair_listings",
    "split_folders",
]
