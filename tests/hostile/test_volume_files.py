"""Hostile volumes: refused before decoding, never followed out of the data root, never zeroed
silently.

Each file here is made by the test in the real format (NIfTI with nibabel, MetaImage and NRRD
with their text headers), claiming what a crafted file would claim. The readers must refuse on
the header alone: the test would allocate gigabytes (or read a file outside the tree) otherwise.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medganbench.core.dataset import DatasetContext
from medganbench.data import DataFileError, InputProblems, Patient, read_volume
from medganbench.data.intensity import ct_domain, mr_domain
from medganbench.data.patients import CutSettings, read_patients
from medganbench.errors import DataError
from medganbench_plugins.datasets.volume_folders import PAIRED_FOLDER
from tests.dataset_trees import paired_patients

#: Peak Python-side allocation allowed while refusing a bomb (the refusal reads a header).
SMALL = 8 * 1024 * 1024


def _metaimage(path: Path, sizes: str, body: bytes = b"\0" * 64, extra: str = "") -> Path:
    header = (
        f"ObjectType = Image\nNDims = 3\nDimSize = {sizes}\nElementType = MET_UCHAR\n{extra}"
        "ElementDataFile = LOCAL\n"
    )
    path.write_bytes(header.encode() + body)
    return path


def test_a_metaimage_declaring_gigavoxels_is_refused_before_decoding(tmp_path: Path) -> None:
    # 9000 × 9000 × 2 voxels (162 M, over the 8192-a-side limit) in a 157 KB file.
    bomb = _metaimage(tmp_path / "bomb.mha", "9000 9000 2", b"\0" * 157_000)
    tracemalloc.start()
    with pytest.raises(DataFileError, match="over the limit"):
        read_volume(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < SMALL


def test_a_volume_within_the_side_limit_but_too_many_voxels_is_refused(tmp_path: Path) -> None:
    # Every side is allowed; the total (8000 × 8000 × 20 = 1.28 G voxels) is not.
    with pytest.raises(DataFileError, match="over the limit"):
        read_volume(_metaimage(tmp_path / "long.mha", "8000 8000 20"))


def test_a_nifti_declaring_too_many_voxels_is_refused(tmp_path: Path) -> None:
    image = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    image.header.set_data_shape((4000, 4000, 200))  # 3.2 G voxels declared, 8 bytes stored
    path = tmp_path / "claims.nii"
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)), path)
    raw = bytearray(path.read_bytes())
    raw[40:56] = np.array([3, 4000, 4000, 200, 1, 1, 1, 1], dtype="<i2").tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(DataFileError, match="over the limit"):
        read_volume(path)


def test_a_detached_header_naming_a_file_elsewhere_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.raw"
    secret.write_bytes(b"\1" * 8)
    folder = tmp_path / "data"
    folder.mkdir()
    header = folder / "x.mhd"
    header.write_text(
        "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\n"
        "ElementDataFile = ../secret.raw\n"
    )
    with pytest.raises(DataFileError, match="not a plain file name beside it"):
        read_volume(header)
    (folder / "link.raw").symlink_to(secret)
    header.write_text(header.read_text().replace("../secret.raw", "link.raw"))
    with pytest.raises(DataFileError, match="missing or a link"):
        read_volume(header)


def test_a_nrrd_data_file_list_is_not_followed(tmp_path: Path) -> None:
    header = tmp_path / "x.nhdr"
    header.write_text(
        "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n"
        "data file: LIST\n/etc/passwd\n"
    )
    with pytest.raises(DataFileError, match="not a plain file name"):
        read_volume(header)


def test_a_nrrd_declaring_too_many_voxels_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.nrrd"
    bomb.write_bytes(
        b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 9000 9000 2\nencoding: raw\n\n" + b"\0" * 64
    )
    with pytest.raises(DataFileError, match="over the limit"):
        read_volume(bomb)


def _patient_tree(root: Path) -> Path:
    paired_patients(root, n=4)
    return root


def test_a_patient_folder_linked_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = _patient_tree(tmp_path / "data")
    outside = tmp_path / "elsewhere"
    (root / "1XA002").rename(outside)
    (root / "1XA002").symlink_to(outside, target_is_directory=True)
    ctx = DatasetContext(32, tmp_path / "cache")
    with pytest.raises(DataError, match="1XA002: a link leading outside the data root"):
        PAIRED_FOLDER.spec().build({"root": str(root)}, ctx)
    lenient = PAIRED_FOLDER.spec().build({"root": str(root), "strict": "false"}, ctx)
    assert ("1XA002", "a link leading outside the data root; not read") in lenient.problems


def test_a_volume_file_linked_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = _patient_tree(tmp_path / "data")
    target = root / "1XA001" / "ct.nii.gz"
    outside = tmp_path / "ct-elsewhere.nii.gz"
    target.rename(outside)
    target.symlink_to(outside)
    with pytest.raises(DataError, match="1XA001: a link leading outside the data root"):
        PAIRED_FOLDER.spec().build({"root": str(root)}, DatasetContext(32, tmp_path / "cache"))


def test_nan_voxels_are_counted_per_patient_not_zeroed_silently(tmp_path: Path) -> None:
    root = _patient_tree(tmp_path / "data")
    path = root / "1XA000" / "ct.nii.gz"
    ct = np.asarray(nib.load(path).dataobj, dtype=np.float32)
    ct[0, 0, :3] = np.nan
    ct[1, 1, 0] = np.inf
    nib.save(nib.Nifti1Image(ct, nib.load(path).affine), path)
    assert read_volume(path).nonfinite == 4
    patient = Patient("p", "1XA000", {"a": root / "1XA000" / "mr.nii.gz", "b": path})
    domains = {"a": mr_domain(), "b": ct_domain()}
    settings = CutSettings(size=16)
    with pytest.raises(DataError, match="1XA000: 4 NaN or infinite voxel"):
        read_patients([patient], domains, settings, root, InputProblems(strict=True))
    lenient = InputProblems(strict=False)
    payload = read_patients([patient], domains, settings, root, lenient)
    assert lenient.problems == [("1XA000", "4 NaN or infinite voxel(s), set to 0")]
    assert bool(np.isfinite(payload["b"].numpy()).all())


def test_the_pixel_limit_can_be_raised_for_genuine_large_volumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wide.nii"
    nib.save(nib.Nifti1Image(np.zeros((40, 2, 2), np.float32), np.eye(4)), path)
    monkeypatch.setenv("MEDGANBENCH_MAX_IMAGE_SIDE", "32")
    with pytest.raises(DataFileError, match="MEDGANBENCH_MAX_IMAGE_SIDE"):
        read_volume(path)
    monkeypatch.setenv("MEDGANBENCH_MAX_IMAGE_SIDE", "64")
    assert read_volume(path).shape == (40, 2, 2)
    assert os.environ["MEDGANBENCH_MAX_IMAGE_SIDE"] == "64"
