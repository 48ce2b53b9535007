"""``unpaired-folder`` and ``paired-folder``: datasets read from folders of 2-D image files.

Layout (``root`` holds one folder per domain, named by ``a_dir`` and ``b_dir``):

* split folders inside each domain folder: ``A/train``, ``A/val``, ``A/test`` (same for B);
* a ``{split}`` placeholder in the folder names: ``a_dir="{split}A"`` reads ``trainA`` and
  ``testA`` (the CycleGAN/Kaggle layout), ``a_dir="{split}MRI", b_dir="{split}CT"`` reads
  ``trainMRI``/``testCT``...;
* no split folders: each domain folder holds all its files and they are split by
  ``val_fraction``/``test_fraction`` (seeded with ``seed``).

A missing ``val`` split folder is carved from ``train`` with ``val_fraction`` and ``seed``; the
assignment of every delivered file to its split is kept (``split_record``). Splitting is by file,
or by the group a regular expression (``group_by``) finds in the file name, so slices of one
patient can be kept together.

Units: PNG/JPEG exports carry no Hounsfield units or scanner values, only 8-bit display values,
so both domains are in units ``"8-bit display value"`` with window ``0,255`` unless told
otherwise. ``paired-folder`` pairs A and B by file stem (``x.png`` with ``x.jpg``); a stem found
on one side only is a problem (strict: an error naming it; lenient: skipped and counted).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medganbench.core.dataset import SPLITS, DatasetContext, DatasetInfo, DomainInfo
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data.dataroot import find_root
from medganbench.errors import DataError, UsageError
from medganbench.fileio import atomic_write
from medganbench_plugins.datasets.image_files import (
    ImageFileError,
    is_hidden,
    list_images,
    load_image,
)
from medganbench_plugins.datasets.slices import (
    InputProblems,
    SliceDataset,
    SliceSplit,
    assign_splits,
    body_mask,
    cached,
    files_fingerprint,
    stack,
)

log = logging.getLogger(__name__)

UNPAIRED = "unpaired-folder"
PAIRED = "paired-folder"
#: Bump whenever the delivered data for the same files could change (cache key, fingerprint).
VERSION = "1"
#: Units of 8-bit image exports: display values, not physical units.
DISPLAY_UNITS = "8-bit display value"
SPLIT_PLACEHOLDER = "{split}"


def _params(paired: bool) -> tuple[Param, ...]:
    pairing = " (pairs are matched by file stem)" if paired else ""
    return (
        Param(
            "root",
            "",
            "folder holding the domain folders; empty: --data-dir, "
            "MEDGANBENCH_DATA_<NAME> or the cache",
            location=True,
        ),
        Param(
            "a_dir",
            "A",
            "domain A folder under root; may contain {split}, e.g. {split}MRI" + pairing,
        ),
        Param("b_dir", "B", "domain B folder under root; may contain {split}, e.g. {split}CT"),
        Param(
            "split_by",
            "auto",
            "folders: train/val/test sub-folders or {split}; ratios: split "
            "files by val/test_fraction; auto: folders if present",
            choices=("auto", "folders", "ratios"),
        ),
        Param(
            "val_fraction",
            0.1,
            "share of files (or of train, when only train/test folders exist) for validation",
            minimum=0.0,
        ),
        Param("test_fraction", 0.2, "share of files for test (ratios only)", minimum=0.0),
        Param("seed", 0, "seed of the ratio split and of carving val from train"),
        Param(
            "group_by",
            "",
            "regular expression whose first match in a file stem is its "
            "patient/group id, kept in one split; empty: each file is its own group",
        ),
        Param("a_modality", "MR", "modality of domain A"),
        Param("b_modality", "CT", "modality of domain B"),
        Param("a_window", "0,255", "value window lo,hi of domain A (8-bit exports: 0,255)"),
        Param("b_window", "0,255", "value window lo,hi of domain B (8-bit exports: 0,255)"),
        Param("channels", 1, "channels delivered: 1 (luminance) or 3 (RGB)", choices=(1, 3)),
        Param("strict", True, "a bad or unmatched file is an error; false: skip it and count it"),
    )


UNPAIRED_PARAMS = _params(paired=False)
PAIRED_PARAMS = _params(paired=True)


def modalities(args: Mapping[str, Any]) -> tuple[str, str]:
    """Domains A and B as the user named them (``a_modality``, ``b_modality``)."""
    return str(args["a_modality"]), str(args["b_modality"])


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    """Register ``unpaired-folder`` and ``paired-folder``."""
    return [
        DatasetSpec(
            name=UNPAIRED,
            summary="Your own unpaired A/B folders of PNG/JPEG/BMP/TIFF slices (8-bit display values).",
            version=VERSION,
            factory="medganbench_plugins.datasets.folders:unpaired_folder",
            params=UNPAIRED_PARAMS,
            modality="a_modality → b_modality",
            modalities=f"{__name__}:modalities",
            pairing="unpaired",
            size="any",
        ),
        DatasetSpec(
            name=PAIRED,
            summary="Your own paired A/B folders of image slices, matched by file stem.",
            version=VERSION,
            factory="medganbench_plugins.datasets.folders:paired_folder",
            params=PAIRED_PARAMS,
            modality="a_modality → b_modality",
            modalities=f"{__name__}:modalities",
            pairing="paired",
            paired=True,
            size="any",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class FolderSettings:
    """The typed arguments of a folder dataset (shared with ``kaggle-brain``)."""

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
        """Read resolved arguments.

        Raises:
            UsageError: a window is not ``lo,hi`` with lo < hi, the fractions leave no training
                data, ``group_by`` is not a valid regular expression, or ``{split}`` is used
                with ``split_by=ratios``.
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
        """Raise :class:`UsageError` for inconsistent settings (see :meth:`from_args`)."""
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


def parse_window(text: str, name: str, owner: str) -> tuple[float, float]:
    """``"lo,hi"`` → ``(lo, hi)``.

    Raises:
        UsageError: not two numbers, or lo >= hi.
    """
    parts = text.replace(";", ",").split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise UsageError(
            f"{owner}: {name}={text!r} is not 'lo,hi'.", hint=f"Example: {name}=0,255"
        ) from None
    if not lo < hi:
        raise UsageError(f"{owner}: {name}={text!r} needs lo < hi.")
    return lo, hi


# --------------------------------------------------------------------------------------------
# Listing and splitting

#: One delivered item: its stem (the pairing key) and one file per domain it feeds
#: (one path for an unpaired domain, (A, B) for a pair).
Item = tuple[str, tuple[Path, ...]]
#: split name → items; the key ``None`` means "not split yet" (the ratio layout).
Listing = dict[str | None, list[Item]]


def split_folders(root: Path, pattern: str, split_by: str) -> dict[str, Path] | None:
    """The existing split folders of one domain, or ``None`` for the ratio layout.

    Raises:
        DataError: split folders are required (``{split}`` or ``split_by=folders``) but there
            is no train folder, or the domain folder does not exist.
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
                problems.add(_rel(entry, root), "beside the split folders train/val/test; not read")
    return {s: _items(list_images(folder, problems, root)) for s, folder in folders.items()}


def _items(files: Sequence[Path]) -> list[Item]:
    return [(f.stem, (f,)) for f in files]


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
        path, other = (by_a[stem], "B") if stem in by_a else (by_b[stem], "A")
        problems.add(_rel(path, root), f"no {other} file with stem {stem!r} to pair with")
    return [(stem, (by_a[stem], by_b[stem])) for stem in sorted(set(by_a) & set(by_b))]


def _by_stem(items: list[Item], root: Path, problems: InputProblems) -> dict[str, Path]:
    """Stem → file; a stem shared by two files (``x.png``, ``x.jpg``) cannot be paired."""
    out: dict[str, Path] = {}
    for stem, (path,) in items:
        if stem in out:
            problems.add(
                _rel(path, root),
                f"stem {stem!r} also used by {out[stem].name}; pairing is ambiguous",
            )
            continue
        out[stem] = path
    return out


def assign(listing: Listing, settings: FolderSettings) -> dict[str, list[Item]]:
    """Items by split: ratio layout split by fractions; a missing val carved from train.

    Splitting is by group (see :func:`group_of`), seeded with ``settings.seed``.
    """
    vf, tf = settings.val_fraction, settings.test_fraction
    if None in listing:
        return _cut(listing[None], (1.0 - vf - tf, vf, tf), settings)
    out = {s: list(listing.get(s, [])) for s in SPLITS}
    if "val" not in listing and vf > 0:
        carved = _cut(out["train"], (1.0 - vf, vf, 0.0), settings)
        out["train"], out["val"] = carved["train"], carved["val"]
    return out


def _cut(
    items: list[Item], ratios: tuple[float, float, float], settings: FolderSettings
) -> dict[str, list[Item]]:
    groups = {stem: group_of(stem, settings.group_by) for stem, _ in items}
    where = assign_splits(groups.values(), ratios, settings.seed)
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


# --------------------------------------------------------------------------------------------
# The dataset


class FolderDataset(SliceDataset):
    """A :class:`SliceDataset` that also says where its files were and what was wrong with them.

    Attributes:
        root: the data root the files were read from.
        problems: (file or folder relative to root, problem) for everything skipped or odd.
        problems_summary: one line about ``problems`` (``"no input problems"`` if none).
        from_cache: whether the slices were loaded from the slice cache.
        cache_dir: where the slice cache and the split record are.
    """

    def __init__(
        self,
        info: DatasetInfo,
        splits: Mapping[str, SliceSplit],
        fingerprint: str,
        split_record: Mapping[str, str],
        *,
        root: Path,
        cache_dir: Path,
        problems: Sequence[Sequence[str]],
        from_cache: bool,
    ) -> None:
        super().__init__(info, splits, fingerprint, split_record)
        self.root, self.cache_dir, self.from_cache = root, cache_dir, from_cache
        self.problems: list[tuple[str, str]] = [(str(w), str(p)) for w, p in problems]
        self.problems_summary = summarize(self.problems)


def summarize(problems: Sequence[tuple[str, str]], limit: int = 5) -> str:
    """One line naming how many problems there were and the first few."""
    if not problems:
        return "no input problems"
    shown = "; ".join(f"{w}: {p}" for w, p in problems[:limit])
    more = f" (+{len(problems) - limit} more)" if len(problems) > limit else ""
    return f"{len(problems)} input problem(s), skipped or recorded: {shown}{more}"


@dataclass
class FolderSource:
    """Everything needed to load one folder dataset instance.

    Attributes:
        name: the dataset name (messages, cache key).
        version: the dataset version (cache key, fingerprint).
        root: the data root.
        settings: the typed arguments.
        args: the resolved arguments (enter the fingerprint, except ``root``).
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


def load_folders(source: FolderSource, ctx: DatasetContext) -> FolderDataset:
    """List, split, decode (or load from the slice cache) and wrap a folder dataset.

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
            p
            for by_split in split_items.values()
            for items in by_split.values()
            for _, paths in items
            for p in paths
        }
    )
    extra = {
        "dataset": source.name,
        "version": source.version,
        "image_size": ctx.image_size,
        "args": {k: v for k, v in source.args.items() if k != "root"},
    }
    fingerprint = files_fingerprint(files, root, extra=extra)
    cache_dir = Path(ctx.cache_dir) / "slices"
    built: list[bool] = []

    def build() -> dict[str, Any]:
        built.append(True)
        return _build(split_items, root, ctx.image_size, s, source.paired, problems.strict)

    # The root is in the cache key (not the fingerprint): two trees with equal names and sizes
    # but different pixels must not share slices, while moving the data changes no result.
    key = {**extra, "fingerprint": fingerprint, "root": str(root.resolve())}
    payload = cached(cache_dir, key, build)
    dataset = FolderDataset(
        _info(source, ctx.image_size),
        _splits(payload, source.paired),
        fingerprint,
        payload["record"],
        root=root,
        cache_dir=cache_dir,
        problems=[*problems.problems, *payload["problems"]],
        from_cache=not built,
    )
    if dataset.problems:
        log.warning("%s: %s", source.name, dataset.problems_summary)
    write_record(cache_dir / f"split-record-{fingerprint}.json", dataset)
    return dataset


def _build(
    split_items: Mapping[str, Mapping[str, list[Item]]],
    root: Path,
    size: int,
    s: FolderSettings,
    paired: bool,
    strict: bool,
) -> dict[str, Any]:
    """Decode every split; the payload the slice cache stores."""
    problems = InputProblems(strict=strict)
    record: dict[str, str] = {}
    splits: dict[str, dict[str, torch.Tensor]] = {}
    for split in SPLITS:
        if paired:
            kept = _decode_items(split_items["ab"][split], root, size, s.channels, problems)
            a = stack([img[0] for _, img in kept], s.channels, size)
            b = stack([img[1] for _, img in kept], s.channels, size)
            # One mask for both: the union, so neither domain's dark tissue is cut away.
            mask = body_mask(a, s.a_window) | body_mask(b, s.b_window)
            splits[split] = {"a": a, "b": b, "mask_a": mask, "mask_b": mask.clone()}
            record.update({_rel(p, root): split for paths, _ in kept for p in paths})
        else:
            tensors: dict[str, torch.Tensor] = {}
            for key, window in (("a", s.a_window), ("b", s.b_window)):
                kept = _decode_items(split_items[key][split], root, size, s.channels, problems)
                tensors[key] = stack([img[0] for _, img in kept], s.channels, size)
                tensors[f"mask_{key}"] = body_mask(tensors[key], window)
                record.update({_rel(p, root): split for paths, _ in kept for p in paths})
            splits[split] = tensors
    return {"splits": splits, "record": record, "problems": [list(p) for p in problems.problems]}


def _decode_items(
    items: Iterable[Item], root: Path, size: int, channels: int, problems: InputProblems
) -> list[tuple[tuple[Path, ...], list[torch.Tensor]]]:
    """Decode each item's files; an item with any bad file is reported and left out."""
    out = []
    for _, paths in items:
        images = []
        for path in paths:
            try:
                images.append(load_image(path, size, channels))
            except ImageFileError as exc:
                problems.add(_rel(path, root), exc.message)
                break
        if len(images) == len(paths):
            out.append((paths, images))
    return out


def _splits(payload: Mapping[str, Any], paired: bool) -> dict[str, SliceSplit]:
    return {
        name: SliceSplit(t["a"], t["b"], t["mask_a"], t["mask_b"], paired=paired)
        for name, t in payload["splits"].items()
    }


def _info(source: FolderSource, size: int) -> DatasetInfo:
    s = source.settings
    return DatasetInfo(
        a=DomainInfo(
            source.a_name or f"{s.a_modality} ({s.a_dir})",
            s.a_modality,
            DISPLAY_UNITS,
            s.a_window,
            s.channels,
        ),
        b=DomainInfo(
            source.b_name or f"{s.b_modality} ({s.b_dir})",
            s.b_modality,
            DISPLAY_UNITS,
            s.b_window,
            s.channels,
        ),
        paired=source.paired,
        splits=SPLITS,
        image_size=size,
    )


def write_record(path: Path, dataset: FolderDataset) -> None:
    """Keep the split record (file → split) beside the slice cache; a failed write only warns."""
    body = {
        "root": str(dataset.root),
        "fingerprint": dataset.fingerprint(),
        "splits": dataset.split_record,
        "problems": dataset.problems,
    }
    try:
        atomic_write(path, lambda f: f.write(json.dumps(body, indent=1, sort_keys=True).encode()))
    except OSError as exc:
        log.warning("Could not write the split record %s: %s", path, exc)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Factories


def _root(
    name: str, args: Mapping[str, Any], settings: FolderSettings, ctx: DatasetContext
) -> Path:
    """``root`` if given, else the first of --data-dir / env var / cache holding both domain folders.

    Raises:
        DataError: the given root, or every candidate, lacks the domain folders.
    """

    def looks_valid(path: Path) -> bool:
        return all(_domain_present(path, d) for d in (settings.a_dir, settings.b_dir))

    return find_root(
        name,
        ctx,
        looks_valid,
        f"Pass --dataset-arg root=DIR, where DIR holds the folders {settings.a_dir} and {settings.b_dir}.",
        str(args["root"]),
    )


def _domain_present(root: Path, pattern: str) -> bool:
    if SPLIT_PLACEHOLDER in pattern:
        return (root / pattern.replace(SPLIT_PLACEHOLDER, "train")).is_dir()
    return (root / pattern).is_dir()


def _make(
    name: str, params: tuple[Param, ...], paired: bool, args: Mapping[str, Any], ctx: DatasetContext
) -> FolderDataset:
    resolved = resolve_args(params, args, name)
    settings = FolderSettings.from_args(resolved, name)
    root = _root(name, resolved, settings, ctx)
    source = FolderSource(
        name,
        VERSION,
        root,
        settings,
        resolved,
        paired,
        problems=InputProblems(strict=settings.strict),
    )
    return load_folders(source, ctx)


def unpaired_folder(args: Mapping[str, Any], ctx: DatasetContext) -> FolderDataset:
    """Factory of ``unpaired-folder`` (see the module docstring for the layout).

    Raises:
        UsageError: bad arguments.
        DataError: missing folders, empty folders, or (strict) bad files.
    """
    return _make(UNPAIRED, UNPAIRED_PARAMS, False, args, ctx)


def paired_folder(args: Mapping[str, Any], ctx: DatasetContext) -> FolderDataset:
    """Factory of ``paired-folder``: like ``unpaired-folder``, items paired by file stem.

    Raises:
        UsageError: bad arguments.
        DataError: as ``unpaired-folder``; strict also for stems found on one side only.
    """
    return _make(PAIRED, PAIRED_PARAMS, True, args, ctx)


__all__ = [
    "DISPLAY_UNITS",
    "PAIRED",
    "PAIRED_PARAMS",
    "UNPAIRED",
    "UNPAIRED_PARAMS",
    "FolderDataset",
    "FolderSettings",
    "FolderSource",
    "load_folders",
    "medganbench_datasets",
    "paired_folder",
    "parse_window",
    "summarize",
    "unpaired_folder",
    "write_record",
]
