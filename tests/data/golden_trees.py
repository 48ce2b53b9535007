"""Byte-for-byte reproducible data trees, one per file-backed dataset, for the golden tests.

The dataset fingerprint hashes every byte of the files, so these trees avoid everything that
varies between two writes: DICOM UIDs are fixed, zip members carry a fixed date, and images come
from seeded generators. ``build(name, root)`` writes the tree of ``name`` under ``root`` and
returns the dataset arguments that read it; tests/data/test_golden_datasets.py builds each
dataset on its tree and compares fingerprints and tensors with the values the pre-toolkit
implementation gave.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from PIL import Image
from pydicom.data import get_testdata_file

from tests.dataset_trees import paired_patients

#: The date every zip member carries (the zip format's own epoch).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _disc(seed: int, size: int) -> np.ndarray:
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
        # Sizes vary (40, 44, 48 px, one landscape) so squaring and resizing are exercised.
        image = _disc(seed * 100 + i, 40 + 4 * (i % 3))
        if i % 4 == 3:
            image = image[:, 6:]
        Image.fromarray(image).save(folder / f"{prefix}{1000 + i}{'.png' if i % 2 else '.jpg'}")


def _folders(root: Path, paired: bool) -> dict[str, str]:
    for split in ("train", "test"):
        for side, seed in (("A", 1), ("B", 2)):
            _images(
                root / side / split, 8 if split == "train" else 4, seed, "x" if paired else side
            )
    return {"root": str(root)}


def _kaggle(root: Path) -> dict[str, str]:
    images = root / "Dataset" / "images"
    for k, name in enumerate(("trainA", "trainB", "testA", "testB")):
        _images(images / name, 8 if name.startswith("train") else 4, k, "f")
    return {"strict": "false"}


def _covid(root: Path) -> dict[str, str]:
    base = root / "Images-processed"
    base.mkdir(parents=True)
    for name, n in (("CT_NonCOVID", 10), ("CT_COVID", 5)):
        with zipfile.ZipFile(base / f"{name}.zip", "w") as archive:
            for i in range(n):
                buffer = io.BytesIO()
                Image.fromarray(_disc(i, 44)).save(buffer, format="PNG")
                archive.writestr(zipfile.ZipInfo(f"{name}/{i}.png", ZIP_DATE), buffer.getvalue())
    return {"strict": "false"}


def _uid(*parts: int) -> str:
    return "1.2.826.0.1.3680043.10.543." + ".".join(str(p) for p in parts)


def _dicom_series(
    folder: Path, patient: str, uids: tuple[int, int], modality: str, slices: int, seed: int
) -> None:
    """One series of ``slices`` files with fixed UIDs and seeded pixel values."""
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(slices):
        ds = source.copy()
        ds.Modality, ds.PatientID = modality, patient
        ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(*uids, 1), _uid(*uids, 2)
        ds.SOPInstanceUID = _uid(*uids, 3, k)
        ds.ImagePositionPatient, ds.InstanceNumber = [0.0, 0.0, 2.5 * k], k + 1
        pixels = ds.pixel_array.astype(np.int32) + rng.integers(-20, 20, ds.pixel_array.shape)
        ds.PixelData = pixels.clip(0, 4000).astype(ds.pixel_array.dtype).tobytes()
        # Written in reverse so the order comes from the positions, not the file names.
        ds.save_as(folder / f"{slices - k:03d}.dcm")


def _dicom(root: Path) -> dict[str, str]:
    for p in range(5):
        _dicom_series(root / f"p{p}", f"P{p}", (p, 0), "CT", 3, p)
    return {"root": str(root)}


def _unpaired_volumes(root: Path) -> dict[str, str]:
    for tree in ("MR", "CT"):
        for p in range(4):
            folder = root / tree / f"{tree.lower()}-patient-{p}"
            _dicom_series(folder, f"{tree}{p}", (p, 1 if tree == "MR" else 2), tree, 4, 10 + p)
    return {"root": str(root)}


def _random_volume(path: Path, shape: tuple[int, ...], seed: int, low: float = 0.0) -> None:
    rng = np.random.default_rng(seed)
    volume = rng.uniform(0.2, 1.0, shape).astype(np.float32)
    # A dark border, as scanners give: the first and last slices are background only.
    volume[:, :, :1] = low
    volume[:, :, -1:] = low
    nib.save(nib.Nifti1Image(volume, np.eye(4)), path)


def _nifti(root: Path) -> dict[str, str]:
    for i in range(4):
        _random_volume(root / f"vol{i}.nii.gz", (18, 14 + 2 * i, 5), i)
    return {"root": str(root)}


def _brats(root: Path) -> dict[str, str]:
    for c in range(4):
        grade = "HGG" if c % 2 == 0 else "LGG"
        case = root / grade / f"Brats18_T_{c}_1"
        case.mkdir(parents=True)
        for k, seq in enumerate(("t1", "t1ce", "t2", "flair")):
            _random_volume(case / f"{case.name}_{seq}.nii.gz", (16, 18, 5), 10 * c + k)
    return {"root": str(root)}


def _acdc(root: Path) -> dict[str, str]:
    for p in range(1, 5):
        folder = root / "training" / f"patient{p:03d}"
        folder.mkdir(parents=True)
        if p % 2:
            _random_volume(folder / f"patient{p:03d}_4d.nii.gz", (16, 16, 4, 3), p)
        else:
            for frame in (1, 9):
                _random_volume(folder / f"patient{p:03d}_frame{frame:02d}.nii.gz", (16, 16, 4), p)
    return {"root": str(root)}


def _synthrad2023(root: Path) -> dict[str, str]:
    paired_patients(root / "Task1" / "brain", n=4)
    return {"root": str(root)}


def _synthrad2025(root: Path) -> dict[str, str]:
    paired_patients(root / "Task1" / "HN", n=4, suffix=".mha")
    return {"root": str(root)}


def _paired_volumes(root: Path) -> dict[str, str]:
    paired_patients(root, n=4)
    # One patient without a mask file: its mask is derived from the images.
    (root / "1XA003" / "mask.nii.gz").unlink()
    return {"root": str(root)}


#: name → (tree writer, whether the tree is found through the data-root lookup).
BUILDERS: dict[str, tuple[Callable[[Path], dict[str, str]], bool]] = {
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


def build(name: str, root: Path) -> dict[str, str]:
    """Write ``name``'s tree under ``root`` (created) and return the arguments that read it."""
    root.mkdir(parents=True, exist_ok=True)
    return BUILDERS[name][0](root)


__all__ = ["BUILDERS", "ZIP_DATE", "build"]
