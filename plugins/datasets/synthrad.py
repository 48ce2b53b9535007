"""The SynthRAD challenges' paired MR/CBCT → CT volumes: ``synthrad2023`` and ``synthrad2025``.

Layouts (as the challenges distribute them; the root may be the task folder or hold
``Task1/`` and ``Task2/``)::

    synthrad2023:  [Task1/]<brain|pelvis>/<patient>/mr.nii.gz, ct.nii.gz, mask.nii.gz
                   [Task2/]<brain|pelvis>/<patient>/cbct.nii.gz, ct.nii.gz, mask.nii.gz
    synthrad2025:  [Task1/]<HN|TH|AB>/<patient>/mr.mha, ct.mha, mask.mha
                   [Task2/]<HN|TH|AB>/<patient>/cbct.mha, ct.mha, mask.mha

Domain A is the source (``source=mr``: MR normalised per volume to [0, 1]; ``source=cbct``:
CBCT in HU), domain B the CT in HU with the window [-1024, 3000] (the challenges' range is a
metric convention: ``--metric-arg psnr.convention=synthrad2023``). The challenge's body mask is
every slice's mask; slices without body are not delivered. Patients are split with
``seed`` (70/15/15 by default) and the case names (the challenge's own pseudonymous ids) are the
volume ids of per-patient evaluation. ``.mha`` files need SimpleITK (``pip install
'medganbench[mha]'``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import DatasetContext, DomainInfo
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data.dataroot import find_root, locate_root
from medganbench.errors import DataError
from medganbench_plugins.datasets.nifti_volumes import (
    CT_WINDOW,
    check_percentile,
    ct_domain,
    mr_domain,
    relative,
    split_ratios,
)
from medganbench_plugins.datasets.slices import group_split_params
from medganbench_plugins.datasets.volume_native import load_paired_patients
from medganbench_plugins.datasets.volume_pairs import (
    PatientFiles,
    VolumeDataset,
)

VERSION = "1"
YEARS: dict[str, dict[str, Any]] = {
    "synthrad2023": {
        "regions": ("brain", "pelvis"),
        "suffix": ".nii.gz",
        "record": "https://doi.org/10.5281/zenodo.7260705",
        "site": "https://synthrad2023.grand-challenge.org",
        "size": "Task 1: 180 brain + 180 pelvis training patients (MR-CT); Task 2: CBCT-CT",
    },
    "synthrad2025": {
        "regions": ("HN", "TH", "AB"),
        "suffix": ".mha",
        "record": "https://doi.org/10.5281/zenodo.14918089",
        "site": "https://synthrad2025.grand-challenge.org",
        "size": "890 MRI-CT and 1472 CBCT-CT cases (head-and-neck, thorax, abdomen)",
    },
}
LICENCE = (
    "CC BY-NC 4.0 for the released training data (non-commercial use, attribution; read the "
    "licence and citation terms on the Zenodo record before use)"
)


def instructions(name: str) -> str:
    """Where the data are published, their licence, and the layout to unpack them into."""
    year = YEARS[name]
    regions = "|".join(year["regions"])
    return (
        f"{name} is published on Zenodo ({year['record']}, SynthRAD collection; challenge site "
        f"{year['site']}); licence: {LICENCE}. Download the training archives of Task 1 "
        f"(MR→CT) and/or Task 2 (CBCT→CT) by hand and unpack them so that "
        f"Task1/<{regions}>/<patient>/mr{year['suffix']}, ct{year['suffix']}, "
        f"mask{year['suffix']} lie under one root folder; then pass --data-dir ROOT or "
        f"--dataset-arg root=ROOT."
    )


def _params(name: str) -> tuple[Param, ...]:
    regions = YEARS[name]["regions"]
    return (
        Param(
            "root",
            "",
            "folder holding Task1/ and Task2/ (or the region folders); empty: --data-dir, "
            f"MEDGANBENCH_DATA_{name.upper()} or the cache directory",
            location=True,
        ),
        Param("region", regions[0], "anatomical region", choices=regions),
        Param("source", "mr", "domain A: MR (Task 1) or CBCT (Task 2)", choices=("mr", "cbct")),
        Param("slice_axis", 2, "array axis of the slices (2: axial)", choices=(0, 1, 2)),
        Param("percentile", 99.5, "MR: per-volume percentile mapped to 1.0", minimum=50.0),
        *group_split_params("patients"),
    )


def region_dir(name: str, root: Path, region: str, source: str) -> Path | None:
    """The folder of ``region``'s patient folders for ``source``, if it is under ``root``."""
    task = "Task1" if source == "mr" else "Task2"
    suffix = YEARS[name]["suffix"]
    for folder in (root / task / region, root / region, root):
        if folder.is_dir() and any((p / f"{source}{suffix}").is_file() for p in _patients(folder)):
            return folder
    return None


def _patients(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _valid(name: str, args: Mapping[str, Any]) -> Callable[[Path], bool]:
    def check(path: Path) -> bool:
        return region_dir(name, path, str(args["region"]), str(args["source"])) is not None

    return check


def _locate(name: str) -> Callable[[Mapping[str, Any], DatasetContext], Path | None]:
    def locate(args: Mapping[str, Any], ctx: DatasetContext) -> Path | None:
        resolved = resolve_args(_params(name), args, name)
        return locate_root(name, ctx, _valid(name, resolved), str(resolved["root"]))

    return locate


def _download(name: str) -> Callable[..., Path]:
    def download(
        args: Mapping[str, Any], ctx: DatasetContext, report: Callable[[str], None]
    ) -> Path:
        """Never fetches (the data are behind the publisher's terms): says where and how."""
        root = _locate(name)(args, ctx)
        if root is not None:
            return root
        raise DataError(f"{name}: download the files by hand.", hint=instructions(name))

    return download


def _factory(name: str) -> Callable[[Mapping[str, Any], DatasetContext], VolumeDataset]:
    def build(args: Mapping[str, Any], ctx: DatasetContext) -> VolumeDataset:
        resolved = resolve_args(_params(name), args, name)
        check_percentile(float(resolved["percentile"]), name)
        ratios = split_ratios(
            float(resolved["val_fraction"]), float(resolved["test_fraction"]), name
        )
        region, source = str(resolved["region"]), str(resolved["source"])
        root = find_root(
            name, ctx, _valid(name, resolved), instructions(name), str(resolved["root"])
        )
        folder = region_dir(name, root, region, source)
        assert folder is not None  # find_root only returns a root that passed _valid
        suffix = YEARS[name]["suffix"]
        patients = [
            PatientFiles(
                key=p.name,
                where=relative(p, root),
                images={"a": p / f"{source}{suffix}", "b": p / f"ct{suffix}"},
                mask=p / f"mask{suffix}",
            )
            for p in _patients(folder)
        ]
        domains: dict[str, DomainInfo] = {
            "a": mr_domain("MR") if source == "mr" else _cbct_domain(),
            "b": ct_domain(CT_WINDOW),
        }
        return load_paired_patients(
            name,
            VERSION,
            root,
            patients,
            domains,
            resolved,
            ratios,
            int(ctx.image_size),
            Path(ctx.cache_dir),
        )

    return build


def _cbct_domain() -> DomainInfo:
    return DomainInfo(name="CBCT", modality="CBCT", units="HU", window=CT_WINDOW, channels=1)


SynthRAD2023 = _factory("synthrad2023")
SynthRAD2025 = _factory("synthrad2025")
locate_2023, locate_2025 = _locate("synthrad2023"), _locate("synthrad2025")
download_2023, download_2025 = _download("synthrad2023"), _download("synthrad2025")


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    """Register ``synthrad2023`` and ``synthrad2025``."""
    module = "medganbench_plugins.datasets.synthrad"
    return [
        DatasetSpec(
            name=name,
            summary=f"SynthRAD {name[-4:]} paired MR/CBCT → CT volumes, per-patient evaluation.",
            version=VERSION,
            factory=f"{module}:SynthRAD{name[-4:]}",
            params=_params(name),
            modality="MR or CBCT → CT (volumes)",
            pairing="paired",
            paired=True,
            size=YEARS[name]["size"],
            locate=f"{module}:locate_{name[-4:]}",
            download=f"{module}:download_{name[-4:]}",
        )
        for name in YEARS
    ]


__all__ = [
    "LICENCE",
    "YEARS",
    "SynthRAD2023",
    "SynthRAD2025",
    "instructions",
    "medganbench_datasets",
    "region_dir",
]
