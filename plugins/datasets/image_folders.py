"""``unpaired-folder`` and ``paired-folder``: your own folders of 2-D image files.

``root`` holds one folder per domain, named by ``a_dir`` and ``b_dir``, laid out as
:mod:`medganbench.data.image_listing` reads them (split folders, a ``{split}`` placeholder, or
one folder split by ratios). PNG/JPEG exports carry no Hounsfield units or scanner values, only
8-bit display values, so both domains are in units ``"8-bit display value"`` with window
``0,255`` unless told otherwise. ``paired-folder`` pairs A and B by file stem.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import DatasetContext
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data import (
    FolderSettings,
    FolderSource,
    SlicesDataset,
    dataset_hook,
    find_root,
    load_folders,
    root_param,
)
from medganbench.data.image_listing import domain_present
from medganbench.data.problems import InputProblems

UNPAIRED = "unpaired-folder"
PAIRED = "paired-folder"
#: Bump whenever the delivered data for the same files could change (cache key, fingerprint).
VERSION = "1"


def _params(paired: bool) -> tuple[Param, ...]:
    pairing = " (pairs are matched by file stem)" if paired else ""
    return (
        root_param(PAIRED if paired else UNPAIRED, "folder holding the domain folders"),
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


def _factory(name: str, paired: bool) -> Any:
    params = PAIRED_PARAMS if paired else UNPAIRED_PARAMS

    def build(raw: Mapping[str, Any], ctx: DatasetContext) -> SlicesDataset:
        """Build the dataset (see the module docstring for the layouts).

        Raises:
            UsageError: bad arguments.
            DataError: missing or empty folders, or (strict) a bad or unmatched file.
        """
        args = resolve_args(params, raw, name)
        settings = FolderSettings.from_args(args, name)

        def looks_valid(path: Path) -> bool:
            return all(domain_present(path, d) for d in (settings.a_dir, settings.b_dir))

        root = find_root(
            name,
            ctx,
            looks_valid,
            f"Pass --dataset-arg root=DIR, where DIR holds the folders {settings.a_dir} and "
            f"{settings.b_dir}.",
            str(args["root"]),
        )
        problems = InputProblems(strict=settings.strict)
        return load_folders(
            FolderSource(name, VERSION, root, settings, args, paired, problems=problems), ctx
        )

    return build


unpaired_folder = _factory(UNPAIRED, paired=False)
paired_folder = _factory(PAIRED, paired=True)


UNPAIRED_SPEC = DatasetSpec(
    name=UNPAIRED,
    summary="Your own unpaired A/B folders of PNG/JPEG/BMP/TIFF slices (8-bit display values).",
    version=VERSION,
    factory=unpaired_folder,
    params=UNPAIRED_PARAMS,
    modality="a_modality → b_modality",
    modalities=modalities,
    pairing="unpaired",
    size="any",
)
PAIRED_SPEC = DatasetSpec(
    name=PAIRED,
    summary="Your own paired A/B folders of image slices, matched by file stem.",
    version=VERSION,
    factory=paired_folder,
    params=PAIRED_PARAMS,
    modality="a_modality → b_modality",
    modalities=modalities,
    pairing="paired",
    paired=True,
    size="any",
)
medganbench_datasets = dataset_hook(UNPAIRED_SPEC, PAIRED_SPEC)


__all__ = [
    "PAIRED",
    "PAIRED_PARAMS",
    "UNPAIRED",
    "UNPAIRED_PARAMS",
    "medganbench_datasets",
    "modalities",
    "paired_folder",
    "unpaired_folder",
]
