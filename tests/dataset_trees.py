"""Small generated data trees in each file-backed dataset's real layout, for the contract tests.

``contract_args(name, base)`` writes (once per ``base``) a tree the dataset ``name`` reads and
returns the dataset arguments that point at it. Trees are tiny on purpose: the contract tests
check the delivered items, not the data. Datasets that check published file counts get
``strict=false``, which records the count mismatch instead of failing.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import nibabel.tests
import numpy as np
import pydicom
from PIL import Image
from pydicom.data import get_testdata_file

PHANTOM = {"train_subjects": 2, "val_subjects": 2, "test_subjects": 2, "slices_per_subject": 2}
PHANTOM_3D = {"train_subjects": 2, "val_subjects": 2, "test_subjects": 2}


def _disc(seed: int, size: int = 40) -> np.ndarray:
    """A bright noisy disc on a dark background, uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 3) ** 2
    return np.where(
        disc, 120 + rng.integers(0, 120, (size, size)), rng.integers(0, 8, (size, size))
    ).astype(np.uint8)


def _images(folder: Path, n: int, seed: int, prefix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(_disc(seed * 100 + i)).save(
            folder / f"{prefix}{1000 + i}{'.png' if i % 2 else '.jpg'}"
        )


def _folders(root: Path, paired: bool) -> dict[str, str]:
    for split in ("train", "test"):
        for side, seed in (("A", 1), ("B", 2)):
            # Paired trees share stems across A and B; unpaired ones need not.
            _images(
                root / side / split, 6 if split == "train" else 3, seed, "x" if paired else side
            )
    return {"root": str(root)}


def _kaggle(root: Path) -> dict[str, str]:
    images = root / "Dataset" / "images"
    for k, name in enumerate(("trainA", "trainB", "testA", "testB")):
        _images(
            images / name,
            6 if name.startswith("train") else 3,
            k,
            "ct" if name.endswith("A") else "mri",
        )
    return {"strict": "false"}  # found counts differ from the published ones by design


def _covid(root: Path) -> dict[str, str]:
    base = root / "Images-processed"
    base.mkdir(parents=True)
    for name, n in (("CT_NonCOVID", 8), ("CT_COVID", 4)):
        with zipfile.ZipFile(base / f"{name}.zip", "w") as archive:
            for i in range(n):
                buffer = io.BytesIO()
                Image.fromarray(_disc(i)).save(buffer, format="PNG")
                archive.writestr(f"{name}/{i}.png", buffer.getvalue())
    return {"strict": "false"}


def _dicom(root: Path) -> dict[str, str]:
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for p in range(4):
        study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
        for k in range(2):
            ds = source.copy()
            ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = f"P{p}", study, series
            ds.SOPInstanceUID = pydicom.uid.generate_uid()
            ds.ImagePositionPatient, ds.InstanceNumber = [0.0, 0.0, 2.5 * k], k + 1
            (root / f"p{p}").mkdir(parents=True, exist_ok=True)
            ds.save_as(root / f"p{p}" / f"{k}.dcm")
    return {"root": str(root)}


def _nifti(root: Path) -> dict[str, str]:
    example = Path(os.path.dirname(nibabel.tests.__file__)) / "data" / "example4d.nii.gz"
    for i in range(3):
        shutil.copy(example, root / f"vol{i}.nii.gz")
    return {"root": str(root), "volume_index": "0"}


def _volume(path: Path, shape: tuple[int, ...], seed: int) -> None:
    vol = np.random.default_rng(seed).uniform(0.2, 1.0, shape).astype(np.float32)
    nib.save(nib.Nifti1Image(vol, np.eye(4)), path)


def label_map(path: Path, shape: tuple[int, int, int], values: tuple[int, ...], seed: int) -> None:
    """A label map of 4 × 4-voxel blocks of classes drawn from ``values``, the same on every
    axial slice."""
    x, y, z = shape
    coarse = np.random.default_rng(seed).choice(values, size=(-(-x // 4), -(-y // 4)))
    plane = coarse.repeat(4, 0).repeat(4, 1)[:x, :y]
    labels = np.repeat(plane[:, :, None], z, axis=2).astype(np.uint8)
    nib.save(nib.Nifti1Image(labels, np.eye(4)), path)


def _brats(root: Path) -> dict[str, str]:
    for c in range(3):
        case = root / "HGG" / f"Brats18_T_{c}_1"
        case.mkdir(parents=True)
        for k, seq in enumerate(("t1", "t1ce", "t2", "flair")):
            _volume(case / f"{case.name}_{seq}.nii.gz", (16, 16, 3), 10 * c + k)
        label_map(case / f"{case.name}_seg.nii.gz", (16, 16, 3), (0, 1, 2, 4), c)
    return {"root": str(root)}


def _acdc(root: Path) -> dict[str, str]:
    for p in range(1, 4):
        folder = root / "training" / f"patient{p:03d}"
        folder.mkdir(parents=True)
        for frame in (1, 12):
            name = f"patient{p:03d}_frame{frame:02d}"
            _volume(folder / f"{name}.nii.gz", (16, 16, 3), 10 * p + frame)
            label_map(folder / f"{name}_gt.nii.gz", (16, 16, 3), (0, 1, 2, 3), p + frame)
    return {"root": str(root)}


def patient_volumes(seed: int, shape: tuple[int, int, int] = (20, 24, 8)) -> dict[str, np.ndarray]:
    """One generated patient in (x, y, z) order: MR (a.u.), CT (HU) and the body mask.

    An ellipsoidal body (soft tissue with a bone rim) fills part of every axial slice, so every
    slice is delivered; MR shows tissue bright and bone dark.
    """
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    r = np.sqrt((grids[0] / 0.8) ** 2 + (grids[1] / 0.7) ** 2 + (grids[2] / 3.0) ** 2)
    body = r < 1.0
    bone = body & (r > 0.8)
    ct = np.where(body, 40.0, -1000.0) + np.where(bone, 1000.0, 0.0) + rng.normal(0, 20, shape)
    mr = np.where(body, 600.0, 5.0) - np.where(bone, 450.0, 0.0) + rng.normal(0, 15, shape)
    ct = np.clip(ct, -1024.0, None)  # as scanners store it: nothing below -1024 HU
    return {"mr": mr.astype(np.float32), "ct": ct.astype(np.float32), "mask": body.astype(np.uint8)}


def write_volume(
    path: Path, data: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 2.5)
) -> None:
    """Write ``data`` (x, y, z) as NIfTI or, for ``.mha``, MetaImage (SimpleITK)."""
    if path.name.endswith(".mha"):
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(data, (2, 1, 0))))
        image.SetSpacing(spacing)
        sitk.WriteImage(image, str(path))
    else:
        nib.save(nib.Nifti1Image(data, np.diag([*spacing, 1.0])), path)


def paired_patients(folder: Path, n: int = 3, suffix: str = ".nii.gz", source: str = "mr") -> None:
    """``folder/<patient>/{source,ct,mask}<suffix>`` for ``n`` generated patients."""
    for k in range(n):
        patient = folder / f"1XA{k:03d}"
        patient.mkdir(parents=True)
        vols = patient_volumes(k)
        # A CBCT is a CT with its own noise and a shading offset.
        first = vols["mr"] if source == "mr" else np.clip(vols["ct"] + 40.0, -1024.0, None)
        for role, data in ((source, first), ("ct", vols["ct"]), ("mask", vols["mask"])):
            write_volume(patient / f"{role}{suffix}", data)


def _synthrad2023(root: Path) -> dict[str, str]:
    paired_patients(root / "Task1" / "brain")
    return {"root": str(root)}


def _synthrad2025(root: Path) -> dict[str, str]:
    paired_patients(root / "Task1" / "HN", suffix=".mha")
    return {"root": str(root)}


def _paired_volumes(root: Path) -> dict[str, str]:
    paired_patients(root)
    return {"root": str(root)}


def dicom_trees(root: Path, patients: int = 3, slices: int = 4) -> None:
    """``root/MR/<patient>/*.dcm`` and ``root/CT/<patient>/*.dcm``: different patients."""
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for tree, modality in (("MR", "MR"), ("CT", "CT")):
        for p in range(patients):
            study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
            folder = root / tree / f"{tree.lower()}-patient-{p}"
            folder.mkdir(parents=True)
            for k in range(slices):
                ds = source.copy()
                ds.Modality, ds.PatientID = modality, f"{tree}{p}"
                ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
                ds.SOPInstanceUID = pydicom.uid.generate_uid()
                ds.ImagePositionPatient, ds.InstanceNumber = [0.0, 0.0, 2.5 * k], k + 1
                ds.save_as(folder / f"{k}.dcm")


def _unpaired_volumes(root: Path) -> dict[str, str]:
    dicom_trees(root)
    return {"root": str(root)}


# Datasets found through the data-root lookup get their tree in the cache directory the
# contract test's context uses; the others take an explicit root argument.
_BUILDERS: dict[str, tuple[Callable[[Path], dict[str, str]], bool]] = {
    "unpaired-folder": (lambda r: _folders(r, paired=False), False),
    "paired-folder": (lambda r: _folders(r, paired=True), False),
    "kaggle-brain": (_kaggle, True),
    "covid-ct": (_covid, True),
    "dicom-folder": (_dicom, False),
    "nifti-folder": (_nifti, False),
    "brats2018": (_brats, False),
    "acdc": (_acdc, False),
    "synthrad2023": (_synthrad2023, False),
    "synthrad2025": (_synthrad2025, False),
    "paired-volume-folder": (_paired_volumes, False),
    "unpaired-volume-folder": (_unpaired_volumes, False),
}


def contract_args(name: str, trees: Path, cache_dir: Path) -> dict[str, object]:
    """Dataset arguments for the contract tests (building the tree on first use).

    Args:
        name: dataset name.
        trees: where explicit-root trees are written.
        cache_dir: the dataset's cache directory in the test context (lookup trees go here).

    Raises:
        KeyError: a registered dataset has no tree here (add one when adding a dataset).
    """
    if name == "phantom-brain":
        return dict(PHANTOM)
    if name == "phantom-brain-3d":
        return dict(PHANTOM_3D)
    build, in_cache = _BUILDERS[name]
    root = cache_dir if in_cache else trees / name
    marker = root / ".contract-tree"
    if not marker.exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        args = build(root)
        marker.write_text(json.dumps(args))
    return dict(json.loads(marker.read_text()))
