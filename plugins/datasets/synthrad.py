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
every slice's mask; slices without body are not delivered. Patients are split with ``seed``
(70/15/15 by default) and the case names (the challenge's own pseudonymous ids) are the volume
ids of per-patient evaluation. ``.mha`` files need SimpleITK (``pip install
'medganbench[mha]'``). ``dims=3`` serves the same data as volumes for 3-D models: crops of
``--image-size``³ to train, each patient's whole volume to evaluate (translated window by window,
scored per patient as the challenges score). Everything else is the toolkit's (:mod:`medganbench.data.descriptor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import DomainInfo
from medganbench.core.params import Param
from medganbench.data import (
    CT_WINDOW,
    InputProblems,
    Patient,
    VolumeDescriptor,
    ct_domain,
    dataset_hook,
    dims_param,
    mr_domain,
    relative,
    root_param,
    split_params,
    subfolders,
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
        root_param(name, "folder holding Task1/ and Task2/ (or the region folders)"),
        Param("region", regions[0], "anatomical region", choices=regions),
        Param("source", "mr", "domain A: MR (Task 1) or CBCT (Task 2)", choices=("mr", "cbct")),
        Param("slice_axis", 2, "array axis of the slices (2: axial)", choices=(0, 1, 2)),
        Param("percentile", 99.5, "MR: per-volume percentile mapped to 1.0", minimum=50.0),
        dims_param(),
        *split_params("patients"),
    )


def region_dir(name: str, root: Path, region: str, source: str) -> Path | None:
    """The folder of ``region``'s patient folders for ``source``, if it is under ``root``."""
    task = "Task1" if source == "mr" else "Task2"
    suffix = YEARS[name]["suffix"]
    for folder in (root / task / region, root / region, root):
        if folder.is_dir() and any((p / f"{source}{suffix}").is_file() for p in subfolders(folder)):
            return folder
    return None


def _descriptor(name: str) -> VolumeDescriptor:
    suffix = YEARS[name]["suffix"]

    def patients(root: Path, args: Mapping[str, Any], problems: InputProblems) -> list[Patient]:
        source = str(args["source"])
        folder = region_dir(name, root, str(args["region"]), source)
        return [
            Patient(
                key=p.name,
                where=relative(p, root),
                images={"a": p / f"{source}{suffix}", "b": p / f"ct{suffix}"},
                mask=p / f"mask{suffix}",
            )
            for p in (subfolders(folder) if folder is not None else [])
        ]

    def domains(args: Mapping[str, Any]) -> dict[str, DomainInfo]:
        source = mr_domain() if args["source"] == "mr" else ct_domain(CT_WINDOW, "CBCT")
        return {"a": source, "b": ct_domain(CT_WINDOW)}

    return VolumeDescriptor(
        name=name,
        version=VERSION,
        summary=f"SynthRAD {name[-4:]} paired MR/CBCT → CT volumes, per-patient evaluation.",
        params=_params(name),
        patients=patients,
        domains=domains,
        instructions=instructions(name),
        modality="MR or CBCT → CT (volumes)",
        size=YEARS[name]["size"],
        downloadable=True,
    )


SYNTHRAD2023 = _descriptor("synthrad2023")
SYNTHRAD2025 = _descriptor("synthrad2025")


medganbench_datasets = dataset_hook(SYNTHRAD2023, SYNTHRAD2025)


__all__ = [
    "LICENCE",
    "SYNTHRAD2023",
    "SYNTHRAD2025",
    "YEARS",
    "instructions",
    "medganbench_datasets",
    "region_dir",
]
