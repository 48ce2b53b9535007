"""``covid-ct``: the UCSD-AI4H COVID-CT lung CT images, for unconditional synthesis.

Source: https://github.com/UCSD-AI4H/COVID-CT, folder ``Images-processed`` with
``CT_NonCOVID.zip`` (463 images in the current release) and ``CT_COVID.zip`` (349). Paper 002
trained on 396 non-COVID images, an earlier release; the count check below names the difference.
Either the two zips or their extracted folders are read, from ``ROOT/Images-processed`` or
``ROOT`` itself. The images are PNG/JPEG crops from papers: 8-bit display values, no HU.

There is a single domain, but the dataset contract has two: the CT images are delivered as both
``a`` and ``b``. Domain B is the real set that distribution metrics (FID, KID) compare samples
with; domain A is unused by unconditional models. ``paired`` is false (an image "paired" with
itself would make paired metrics meaningless). Splits are drawn by file with ``val_fraction``,
``test_fraction`` and ``seed`` and recorded (the images of one patient may fall in different
splits: the release names files by source paper, not by patient).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import SPLITS, DatasetContext, DatasetInfo, DomainInfo
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data import (
    DISPLAY_UNITS,
    ImageRef,
    SlicesDataset,
    assign_splits,
    cached,
    dataset_hook,
    files_fingerprint,
    find_root,
    locate_root,
)
from medganbench.data.files import is_hidden
from medganbench.data.image_files import is_image_file
from medganbench.data.image_source import image_payload, serve_images, write_record
from medganbench.data.problems import InputProblems, warn_problems
from medganbench.errors import DataError, UsageError

log = logging.getLogger(__name__)

NAME = "covid-ct"
VERSION = "1"
REPO_URL = "https://github.com/UCSD-AI4H/COVID-CT"
#: Published image counts of each class archive.
EXPECTED_COUNTS: dict[str, int] = {"CT_NonCOVID": 463, "CT_COVID": 349}
SUBSETS: dict[str, tuple[str, ...]] = {
    "noncovid": ("CT_NonCOVID",),
    "covid": ("CT_COVID",),
    "all": ("CT_NonCOVID", "CT_COVID"),
}

PARAMS: tuple[Param, ...] = (
    Param(
        "subset",
        "noncovid",
        "which images: noncovid (paper 002), covid or all",
        choices=tuple(SUBSETS),
    ),
    Param("val_fraction", 0.1, "share of images for validation", minimum=0.0),
    Param("test_fraction", 0.2, "share of images for test", minimum=0.0),
    Param("seed", 0, "seed of the split"),
    Param(
        "strict", True, "count mismatches and bad files are errors; false: warn, skip and record"
    ),
)

CT = DomainInfo(
    name=f"lung CT ({DISPLAY_UNITS})", modality="CT", units=DISPLAY_UNITS, window=(0.0, 255.0)
)


SPEC = DatasetSpec(
    name=NAME,
    summary="UCSD-AI4H COVID-CT lung CT images for unconditional synthesis (B = real set).",
    version=VERSION,
    factory="medganbench_plugins.datasets.covid_ct:CovidCT",
    params=PARAMS,
    modality="CT",
    pairing="unpaired (one domain, delivered as A and B)",
    size="463 non-COVID + 349 COVID images",
    locate="medganbench_plugins.datasets.covid_ct:locate",
    download="medganbench_plugins.datasets.covid_ct:download",
)
medganbench_datasets = dataset_hook(SPEC)


# --------------------------------------------------------------------------------------------
# Finding the files


def _class_source(base: Path, name: str) -> Path | None:
    """The extracted folder ``base/name`` if it has files, else ``base/name.zip``, else None."""
    folder, archive = base / name, base / f"{name}.zip"
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    return archive if archive.is_file() else None


def base_dir(root: Path, classes: tuple[str, ...]) -> Path | None:
    """``root/COVID-CT/Images-processed``, ``root/Images-processed`` or ``root``, whichever holds
    every class (zip or folder); None if none does."""
    for base in (root / "COVID-CT" / "Images-processed", root / "Images-processed", root):
        if all(_class_source(base, c) is not None for c in classes):
            return base
    return None


def list_entries(source: Path, root: Path, problems: InputProblems) -> list[ImageRef]:
    """The images of one class (a zip or a folder, searched recursively), sorted.

    Non-image entries are reported to ``problems``; hidden bookkeeping entries are ignored.

    Raises:
        DataError: the zip is unreadable or the class holds no image; strict: a non-image entry.
    """
    entries: list[ImageRef] = []
    if source.suffix == ".zip":
        try:
            with zipfile.ZipFile(source) as archive:
                names = sorted(
                    n for n in archive.namelist() if not n.endswith("/") and not is_hidden(n)
                )
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(
                f"{source} is not a readable zip file ({exc}).",
                hint=f"Download it again from {REPO_URL}.",
            ) from None
        for name in names:
            if is_image_file(name):
                entries.append(ImageRef(source, name))
            else:
                problems.add(ImageRef(source, name).where(root), "not an image file")
    else:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            rel = path.relative_to(source).as_posix()
            if is_hidden(rel):
                continue
            if is_image_file(path):
                entries.append(ImageRef(path))
            else:
                problems.add(ImageRef(path).where(root), "not an image file")
    if not entries:
        raise DataError(
            f"{source} holds no image files.", hint=f"Download it again from {REPO_URL}."
        )
    return entries


def check_count(name: str, source: Path, found: int, problems: InputProblems) -> None:
    """Compare one class's image count with the published one.

    Raises:
        DataError: strict mode and the count differs (naming the source, expected and found).
    """
    expected = EXPECTED_COUNTS[name]
    if found == expected:
        return
    what = f"expected {expected} image files, found {found}"
    if problems.strict:
        raise DataError(
            f"{NAME}: {source}: {what}.",
            hint="The download may be incomplete or another release; download it again, or pass "
            "--dataset-arg strict=false to use the files found (the mismatch is recorded).",
        )
    log.warning("%s: %s: %s", NAME, source, what)
    problems.add(source.name, what)


def instructions(target: Path) -> str:
    """The exact commands that fetch the files into ``target``."""
    return (
        f"Get the COVID-CT images ({REPO_URL}):\n"
        f"  git clone --depth 1 {REPO_URL} {target / 'COVID-CT'}\n"
        f"or download Images-processed/CT_NonCOVID.zip and CT_COVID.zip from it into "
        f"{target / 'Images-processed'} (zips or extracted folders both work)."
    )


def locate(args: Mapping[str, Any], ctx: DatasetContext) -> Path | None:
    """The data root if the files are present (lookup order of :mod:`medganbench.data.dataroot`)."""
    classes = SUBSETS[str(args.get("subset", "noncovid"))]
    return locate_root(NAME, ctx, lambda p: base_dir(p, classes) is not None)


def download(args: Mapping[str, Any], ctx: DatasetContext, report: Callable[[str], None]) -> Path:
    """Never fetches (the repository is large, git is the client): raises with the commands.

    Raises:
        DataError: always, unless the files are already present (then returns their root).
    """
    root = locate(args, ctx)
    if root is not None:
        return root
    target = Path(ctx.data_dir or ctx.cache_dir)
    raise DataError(f"{NAME}: download the files by hand.", hint=instructions(target))


# --------------------------------------------------------------------------------------------
# The dataset


def CovidCT(args: Mapping[str, Any], ctx: DatasetContext) -> SlicesDataset:
    """Factory of ``covid-ct``.

    Raises:
        UsageError: bad arguments.
        DataError: files not found (hint: how to get them), count mismatch or bad file (strict).
    """
    resolved = resolve_args(PARAMS, args, NAME)
    vf, tf, seed = (
        float(resolved["val_fraction"]),
        float(resolved["test_fraction"]),
        int(resolved["seed"]),
    )
    if vf + tf >= 1.0:
        raise UsageError(f"{NAME}: val_fraction + test_fraction must be below 1.")
    classes = SUBSETS[str(resolved["subset"])]
    root = find_root(
        NAME,
        ctx,
        lambda p: base_dir(p, classes) is not None,
        instructions(Path(ctx.data_dir or ctx.cache_dir)),
    )
    base = base_dir(root, classes)
    assert base is not None  # find_root only returns roots that passed the check
    problems = InputProblems(strict=bool(resolved["strict"]))
    entries: list[ImageRef] = []
    sources: list[Path] = []
    for name in classes:
        source = _class_source(base, name)
        assert source is not None
        found = list_entries(source, root, problems)
        check_count(name, source, len(found), problems)
        entries += found
        sources += [source] if source.suffix == ".zip" else [e.file for e in found]
    where = {e.where(root): e for e in entries}
    split_of = assign_splits(where, (1.0 - vf - tf, vf, tf), seed)
    # Each split's images in name order: one domain, delivered as both A and B.
    items = {s: [(w, (where[w],)) for w in sorted(where) if split_of[w] == s] for s in SPLITS}
    extra = {
        "dataset": NAME,
        "version": VERSION,
        "image_size": ctx.image_size,
        "args": dict(resolved),
        "entries": len(entries),
    }
    fingerprint = files_fingerprint(sources, root, extra=extra)
    cache_dir = Path(ctx.cache_dir) / "slices"
    payload, hit = cached(
        cache_dir,
        {**extra, "fingerprint": fingerprint, "root": str(root.resolve())},
        lambda: image_payload(
            {"a": items}, root, ctx.image_size, 1, {"a": CT.window}, "same", problems.strict
        ),
    )
    info = DatasetInfo(a=CT, b=CT, paired=False, splits=SPLITS, image_size=ctx.image_size)
    dataset = serve_images(payload, info, fingerprint, problems.problems, hit)
    warn_problems(NAME, dataset.problems)
    write_record(cache_dir / f"split-record-{fingerprint}.json", dataset)
    return dataset


__all__ = [
    "EXPECTED_COUNTS",
    "NAME",
    "PARAMS",
    "SUBSETS",
    "CovidCT",
    "base_dir",
    "check_count",
    "download",
    "instructions",
    "list_entries",
    "locate",
    "medganbench_datasets",
]
