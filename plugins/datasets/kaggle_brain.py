"""``kaggle-brain``: the Kaggle "CT to MRI cGAN" brain slices (``darren2020/ct-to-mri-cgan``).

The download holds ``Dataset/images/trainA`` (CT, 1742 files), ``trainB`` (MRI, 1744),
``testA`` (CT, 744) and ``testB`` (MRI, 744): 4974 unpaired 2-D slices, PNG and JPEG mixed, of
mixed sizes, gray or RGB. The files are not ours to redistribute; they are read from a root found
by :func:`medganbench.data.dataroot.find_root` (``--data-dir``, ``MEDGANBENCH_DATA_KAGGLE_BRAIN``, or
the cache where ``medganbench datasets download kaggle-brain`` puts them).

Direction: domain A is MR (``trainB``/``testB``) and domain B is CT (``trainA``/``testA``), so
the default translation is MR → CT, as in the paper; note that this is the reverse of the
Kaggle folder letters. The slices are unpaired (``paired`` is always false, so paired metrics
are refused). Values are 8-bit display values (the exports carry no Hounsfield units). A
validation split is carved from train with ``val_fraction`` and ``seed``, and recorded.

The numbers of files found are compared with the published ones: a mismatch (an incomplete
download, a different version) is an error, or with ``strict=false`` a warning that is recorded
on the dataset (``problems``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import DatasetContext
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data import (
    DISPLAY_UNITS,
    FolderSettings,
    FolderSource,
    SlicesDataset,
    dataset_hook,
    env_var,
    find_root,
    load_folders,
    locate_root,
)
from medganbench.data.image_files import count_images
from medganbench.data.problems import InputProblems
from medganbench.errors import DataError

log = logging.getLogger(__name__)

NAME = "kaggle-brain"
VERSION = "1"
KAGGLE_REF = "darren2020/ct-to-mri-cgan"
#: Published file counts per Kaggle folder (4974 in all).
EXPECTED_COUNTS: dict[str, int] = {"trainA": 1742, "trainB": 1744, "testA": 744, "testB": 744}
#: The folder of each (domain, split): A = MR is Kaggle's "B", B = CT is Kaggle's "A".
MR_DIR, CT_DIR = "{split}B", "{split}A"

PARAMS: tuple[Param, ...] = (
    Param(
        "val_fraction",
        0.1,
        "share of each domain's training files carved out for validation",
        minimum=0.0,
    ),
    Param("seed", 0, "seed of the validation carve-out"),
    Param(
        "strict",
        True,
        "file-count mismatches and bad files are errors; false: warn, skip and record",
    ),
)


SPEC = DatasetSpec(
    name=NAME,
    summary="Kaggle CT-to-MRI brain slices (darren2020/ct-to-mri-cgan), unpaired MR → CT, 8-bit.",
    version=VERSION,
    factory="medganbench_plugins.datasets.kaggle_brain:KaggleBrain",
    params=PARAMS,
    modality="MR → CT",
    pairing="unpaired",
    size="4974 slices",
    locate="medganbench_plugins.datasets.kaggle_brain:locate",
    download="medganbench_plugins.datasets.kaggle_brain:download",
)
medganbench_datasets = dataset_hook(SPEC)


def images_dir(root: Path) -> Path | None:
    """The folder holding trainA/trainB/testA/testB: ``root``, ``root/images`` or
    ``root/Dataset/images``; ``None`` if none of them does."""
    for candidate in (root / "Dataset" / "images", root / "images", root):
        if all((candidate / folder).is_dir() for folder in EXPECTED_COUNTS):
            return candidate
    return None


def looks_valid(root: Path) -> bool:
    """Whether ``root`` holds the Kaggle layout (see :func:`images_dir`)."""
    return images_dir(root) is not None


def instructions(target: Path) -> str:
    """The exact commands that fetch the files into ``target``."""
    return (
        f"Download the Kaggle dataset {KAGGLE_REF} (needs a free Kaggle account and API token):\n"
        f"  pip install kaggle   # token in ~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY\n"
        f"  kaggle datasets download -d {KAGGLE_REF} -p {target} --unzip\n"
        f"so that {target / 'Dataset' / 'images'}/trainA, trainB, testA and testB exist."
    )


def locate(args: Mapping[str, Any], ctx: DatasetContext) -> Path | None:
    """The data root if the files are present (lookup order of :mod:`medganbench.data.dataroot`)."""
    return locate_root(NAME, ctx, looks_valid)


def count_mismatches(folder: Path) -> list[tuple[str, str]]:
    """(folder, "expected N image files, found M") for every Kaggle folder that is off."""
    out = []
    for name, expected in EXPECTED_COUNTS.items():
        found = count_images(folder / name)
        if found != expected:
            out.append((name, f"expected {expected} image files, found {found}"))
    return out


def check_counts(folder: Path, problems: InputProblems) -> None:
    """Compare the file counts with the published ones.

    Strict: one :class:`DataError` naming every folder off, with expected and found counts.
    Lenient: each mismatch is logged and added to ``problems``.

    Raises:
        DataError: in strict mode, when any count differs.
    """
    mismatches = count_mismatches(folder)
    if not mismatches:
        return
    listed = "; ".join(f"{folder / name}: {what}" for name, what in mismatches)
    if problems.strict:
        raise DataError(
            f"{NAME}: the files do not match the published dataset: {listed}.",
            hint="The download may be incomplete or another version; download it again, or pass "
            "--dataset-arg strict=false to use the files found (the mismatch is recorded).",
        )
    log.warning("%s: file counts differ from the published ones: %s", NAME, listed)
    for name, what in mismatches:
        problems.add(name, what)


def KaggleBrain(args: Mapping[str, Any], ctx: DatasetContext) -> SlicesDataset:
    """Factory of ``kaggle-brain``.

    Raises:
        UsageError: bad arguments.
        DataError: the files are not found (the hint has the download command), the counts
            differ (strict), or a file is bad (strict).
    """
    resolved = resolve_args(PARAMS, args, NAME)
    root = find_root(NAME, ctx, looks_valid, instructions(Path(ctx.data_dir or ctx.cache_dir)))
    folder = images_dir(root)
    assert folder is not None  # find_root only returns roots looks_valid accepted
    settings = FolderSettings(
        a_dir=MR_DIR,
        b_dir=CT_DIR,
        split_by="folders",
        val_fraction=float(resolved["val_fraction"]),
        test_fraction=0.0,
        seed=int(resolved["seed"]),
        a_modality="MR",
        b_modality="CT",
        strict=bool(resolved["strict"]),
    )
    settings.check(NAME)
    problems = InputProblems(strict=settings.strict)
    check_counts(folder, problems)
    source = FolderSource(
        NAME,
        VERSION,
        folder,
        settings,
        resolved,
        paired=False,
        a_name=f"MR (trainB/testB, {DISPLAY_UNITS})",
        b_name=f"CT (trainA/testA, {DISPLAY_UNITS})",
        problems=problems,
    )
    return load_folders(source, ctx)


# --------------------------------------------------------------------------------------------
# Download


def _kaggle_credentials() -> bool:
    """Whether the Kaggle clients will find an API token (env vars or kaggle.json)."""
    if os.environ.get("KAGGLE_API_TOKEN") or (
        os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")
    ):
        return True
    dirs = [
        os.environ.get("KAGGLE_CONFIG_DIR"),
        Path.home() / ".kaggle",
        Path.home() / ".config" / "kaggle",
    ]
    return any(d and (Path(d) / "kaggle.json").is_file() for d in dirs)


def kaggle_client() -> str | None:
    """``"cli"`` if the ``kaggle`` command is on PATH, ``"kagglehub"`` if importable, else None."""
    if shutil.which("kaggle"):
        return "cli"
    if importlib.util.find_spec("kagglehub") is not None:
        return "kagglehub"
    return None


def download(args: Mapping[str, Any], ctx: DatasetContext, report: Callable[[str], None]) -> Path:
    """Fetch the files with an installed, credentialed Kaggle client into the data root.

    The target is ``--data-dir`` if given, else the dataset's cache directory. No network
    access is attempted when no client is installed or no token is configured.

    Returns:
        The data root (holding ``Dataset/images``).

    Raises:
        DataError: no client, no credentials, or the download failed; the hint gives the
            exact commands to run by hand.
    """
    target = Path(ctx.data_dir or ctx.cache_dir)
    manual = (
        instructions(target) + f"\nThen pass --data-dir {target} or set {env_var(NAME)}={target}."
    )
    client = kaggle_client()
    if client is None:
        raise DataError(
            f"{NAME}: no Kaggle client (kaggle CLI or kagglehub) is installed.", hint=manual
        )
    if not _kaggle_credentials():
        raise DataError(f"{NAME}: the Kaggle client found no API token.", hint=manual)
    target.mkdir(parents=True, exist_ok=True)
    try:
        if client == "cli":
            report("downloading with the kaggle CLI")
            subprocess.run(
                ["kaggle", "datasets", "download", "-d", KAGGLE_REF, "-p", str(target), "--unzip"],
                check=True,
            )
        else:
            report("downloading with kagglehub")
            import kagglehub  # type: ignore[import-not-found]

            fetched = Path(kagglehub.dataset_download(KAGGLE_REF))
            shutil.copytree(fetched, target, dirs_exist_ok=True)
    except Exception as exc:  # whatever the client raises, the cure is the manual route
        raise DataError(f"{NAME}: the Kaggle download failed: {exc}", hint=manual) from exc
    if not looks_valid(target):
        raise DataError(
            f"{NAME}: the download in {target} does not have the expected layout.", hint=manual
        )
    return target


__all__ = [
    "EXPECTED_COUNTS",
    "KAGGLE_REF",
    "NAME",
    "PARAMS",
    "KaggleBrain",
    "check_counts",
    "count_mismatches",
    "download",
    "images_dir",
    "instructions",
    "kaggle_client",
    "locate",
    "looks_valid",
    "medganbench_datasets",
]
