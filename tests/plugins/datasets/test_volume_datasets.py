"""DICOM and NIfTI datasets on real files shipped by pydicom and nibabel, copied into generated trees.

pydicom's ``CT_small.dcm``/``MR_small.dcm`` and nibabel's ``example4d.nii.gz`` are real scanner
exports; the trees built here change only identifiers, geometry and pixel values (written back
with pydicom/nibabel) so that patients, slice order and splits can be checked exactly.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import nibabel.tests
import numpy as np
import pydicom
import pytest
import torch
from pydicom.data import get_testdata_file

from medganbench.core.dataset import DatasetContext
from medganbench.data import DataFileError, SlicesDataset, percentile_normalise, read_volume
from medganbench.data.descriptor import VolumeDescriptor
from medganbench.data.dicom import read_header
from medganbench.errors import DataError
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench_plugins.datasets.acdc import ACDC
from medganbench_plugins.datasets.brats import BRATS2018
from medganbench_plugins.datasets.dicom_folder import DICOM_FOLDER
from medganbench_plugins.datasets.nifti_folder import NIFTI_FOLDER

SECRET_ID = "SECRET-PATIENT-123"
SECRET_NAME = "SECRETNAME^PATIENT"
EXAMPLE4D = Path(os.path.dirname(nibabel.tests.__file__)) / "data" / "example4d.nii.gz"
N_PATIENTS, N_SLICES = 5, 3


def _ctx(tmp_path: Path, size: int = 32) -> DatasetContext:
    return DatasetContext(size, tmp_path / "cache", None)


def _build(
    descriptor: VolumeDescriptor, args: Mapping[str, Any], ctx: DatasetContext
) -> SlicesDataset:
    """The dataset as a run builds it: arguments resolved by its spec, then its factory."""
    dataset = descriptor.spec().build(args, ctx)
    assert isinstance(dataset, SlicesDataset)
    return dataset


def DicomFolder(args: Mapping[str, Any], ctx: DatasetContext) -> SlicesDataset:  # noqa: N802
    return _build(DICOM_FOLDER, args, ctx)


def NiftiFolder(args: Mapping[str, Any], ctx: DatasetContext) -> SlicesDataset:  # noqa: N802
    return _build(NIFTI_FOLDER, args, ctx)


def Brats2018(args: Mapping[str, Any], ctx: DatasetContext) -> SlicesDataset:  # noqa: N802
    return _build(BRATS2018, args, ctx)


def Acdc(args: Mapping[str, Any], ctx: DatasetContext) -> SlicesDataset:  # noqa: N802
    return _build(ACDC, args, ctx)


def _ct_tree(root: Path, patients: int = N_PATIENTS, slices: int = N_SLICES) -> Path:
    """Copies of CT_small.dcm: patient i, slice k holds the constant stored value 1000 + 100 i + k.

    File names run opposite to the anatomical order (ImagePositionPatient z), so ordering by
    file name would be caught.
    """
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for i in range(patients):
        study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
        for k in range(slices):
            ds = source.copy()
            ds.PatientID, ds.PatientName = f"{SECRET_ID}-{i}", f"{SECRET_NAME}{i}"
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.SOPInstanceUID = pydicom.uid.generate_uid()
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.ImagePositionPatient = [0.0, 0.0, float(k) * 2.5]
            ds.InstanceNumber = k + 1
            ds.PixelData = np.full(
                (ds.Rows, ds.Columns), 1000 + 100 * i + k, dtype=np.int16
            ).tobytes()
            folder = root / f"p{i}"
            folder.mkdir(parents=True, exist_ok=True)
            ds.save_as(folder / f"im{slices - k:02d}.dcm")
    return root


def _decode(value: float) -> tuple[int, int]:
    """(patient, slice) from a constant CT slice's HU value (intercept -1024)."""
    stored = round(value) + 1024 - 1000
    return stored // 100, stored % 100


# ------------------------------------------------------------------------------------------
# DICOM
# ------------------------------------------------------------------------------------------


def test_patient_identifiers_never_leave_the_headers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tree = _ct_tree(tmp_path / "tree")
    (tree / "p0" / "broken.dcm").write_text("not dicom")
    ds = DicomFolder({"root": str(tree), "strict": "false"}, _ctx(tmp_path))
    with pytest.raises(DataError) as strict_error:
        DicomFolder({"root": str(tree)}, _ctx(tmp_path))
    cache_names = [str(p.relative_to(tmp_path / "cache")) for p in (tmp_path / "cache").rglob("*")]
    cache_bytes = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    visible = [
        *ds.split_record,
        *ds.split_record.values(),
        ds.fingerprint(),
        str(strict_error.value),
        *cache_names,
        caplog.text,
        repr(read_header(tree / "p0" / "im01.dcm")),
    ]
    for secret in (SECRET_ID, "SECRETNAME", "PATIENT"):
        assert not any(secret in text for text in visible), secret
        assert secret.encode() not in cache_bytes
    assert all(len(g) == 12 and int(g, 16) >= 0 for g in ds.split_record)


def test_dicom_splits_by_patient_deterministically(tmp_path: Path) -> None:
    ds = DicomFolder({"root": str(_ct_tree(tmp_path / "tree")), "seed": "3"}, _ctx(tmp_path))
    assert len(ds.split_record) == N_PATIENTS and set(ds.split_record.values()) == {
        "train",
        "val",
        "test",
    }
    seen: dict[int, str] = {}
    for name in ds.info.splits:
        split = ds.split(name)
        patients = [_decode(float(split.a[j].mean())) for j in range(split.a.shape[0])]
        for patient, _ in patients:
            assert seen.setdefault(patient, name) == name  # no patient in two splits
        # Slices of a patient come in anatomical (ImagePositionPatient) order.
        assert [k for _, k in patients] == list(range(N_SLICES)) * (len(patients) // N_SLICES)
        assert split.a.shape[1:] == (1, 32, 32) and split.mask_a.dtype == torch.bool
        # Single domain: B is the same pool shifted by whole patients, never the item's own slice.
        partners = [_decode(float(split.b[j].mean()))[0] for j in range(len(split))]
        if len({p for p, _ in patients}) > 1:
            assert all(p != q for (p, _), q in zip(patients, partners, strict=True))
    assert len(seen) == N_PATIENTS
    again = DicomFolder({"root": str(tmp_path / "tree"), "seed": "3"}, _ctx(tmp_path / "other"))
    assert again.split_record == ds.split_record and again.fingerprint() == ds.fingerprint()
    assert not ds.info.paired and ds.info.a.units == "HU"


def test_unreadable_dicom_strict_and_lenient(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tree = _ct_tree(tmp_path / "tree")
    data = (tree / "p1" / "im01.dcm").read_bytes()
    (tree / "p1" / "truncated.dcm").write_bytes(data[: len(data) - 4000])
    (tree / "p2" / "notes.dcm").write_text("this is a text file\n")
    for bad in ("p1/truncated.dcm", "p2/notes.dcm"):
        only = tmp_path / f"only-{bad.replace('/', '-')}"
        shutil.copytree(tree, only)
        (only / ("p2/notes.dcm" if bad.startswith("p1") else "p1/truncated.dcm")).unlink()
        with pytest.raises(DataError, match=bad):
            DicomFolder({"root": str(only)}, _ctx(tmp_path / "c1"))
    caplog.set_level(logging.WARNING)
    ds = DicomFolder({"root": str(tree), "strict": "false"}, _ctx(tmp_path / "c2"))
    assert (
        sum(ds.split_sizes().values()) >= N_PATIENTS * N_SLICES - N_SLICES
    )  # all good slices kept
    assert "2 input problem(s)" in caplog.text
    assert "p1/truncated.dcm" in caplog.text and "p2/notes.dcm" in caplog.text


# ------------------------------------------------------------------------------------------
# NIfTI
# ------------------------------------------------------------------------------------------


def _nifti_tree(root: Path, copies: int = 3) -> Path:
    root.mkdir(parents=True)
    for i in range(copies):
        shutil.copy(EXAMPLE4D, root / f"vol{i}.nii.gz")
    return root


def test_nifti_4d_volume_index_gives_sized_slices(tmp_path: Path) -> None:
    tree = _nifti_tree(tmp_path / "nii")
    ds = NiftiFolder({"root": str(tree), "volume_index": "0"}, _ctx(tmp_path, 24))
    total = 0
    for name in ds.info.splits:
        split = ds.split(name)
        assert split.a.shape[1:] == (1, 24, 24)
        assert float(split.a.min()) >= 0.0 and float(split.a.max()) <= 1.0  # percentile normalised
        total += split.a.shape[0]
    assert 0 < total <= 3 * nib.load(EXAMPLE4D).shape[2]
    # Resizing smooths the brightest voxels; on the native volume the mapping is exact.
    normalised = percentile_normalise(read_volume(EXAMPLE4D, volume_index=0).data, 99.5)
    assert normalised.min() == 0.0 and normalised.max() == 1.0
    assert 0.004 <= float((normalised == 1.0).mean()) <= 0.006  # the top 0.5% clip to 1


def test_nifti_bad_dimensions_are_problems(tmp_path: Path) -> None:
    tree = _nifti_tree(tmp_path / "nii")
    with pytest.raises(DataError, match="vol0.nii.gz: 4-D"):  # 4-D without volume_index
        NiftiFolder({"root": str(tree)}, _ctx(tmp_path))
    with pytest.raises(DataFileError, match="out of range"):
        read_volume(EXAMPLE4D, volume_index=2)
    with pytest.raises(DataError, match="vol0.nii.gz: volume_index 5 is out of range"):
        NiftiFolder({"root": str(tree), "volume_index": "5"}, _ctx(tmp_path))
    nib.save(nib.Nifti1Image(np.ones((8, 8), dtype=np.float32), np.eye(4)), tree / "flat.nii.gz")
    with pytest.raises(DataError, match="flat.nii.gz: 2-D"):
        NiftiFolder({"root": str(tree), "volume_index": "0"}, _ctx(tmp_path))
    lenient = NiftiFolder(
        {"root": str(tree), "volume_index": "0", "strict": "false"}, _ctx(tmp_path)
    )
    assert len(lenient.split_record) == 3


# ------------------------------------------------------------------------------------------
# BraTS and ACDC on generated trees
# ------------------------------------------------------------------------------------------


def _brats_tree(
    root: Path, same: bool, cases: int = 3, shape: tuple[int, int, int] = (16, 16, 6)
) -> Path:
    """Cases with random T1; T2 is 3×T1 (``same``: identical after normalisation) or independent.

    The last axial slice is all zero, so skip_empty must drop it.
    """
    rng = np.random.default_rng(0)
    for c in range(cases):
        case = root / ("HGG" if c % 2 == 0 else "LGG") / f"Brats18_X_{c}_1"
        case.mkdir(parents=True)
        t1 = rng.uniform(0.2, 1.0, shape).astype(np.float32)
        t1[:, :, -1] = 0.0
        volumes = {
            "t1": t1,
            "t1ce": t1 + 1,
            "t2": 3 * t1 if same else rng.uniform(0.2, 1.0, shape).astype(np.float32),
            "flair": t1,
        }
        volumes["t2"][:, :, -1] = 0.0
        for seq, vol in volumes.items():
            nib.save(nib.Nifti1Image(vol, np.eye(4)), case / f"{case.name}_{seq}.nii.gz")
    return root


def test_brats_pairs_source_and_target_per_slice(tmp_path: Path) -> None:
    tree = _brats_tree(tmp_path / "brats", same=True)
    ds = Brats2018({"root": str(tree)}, _ctx(tmp_path, 16))
    assert ds.info.paired and ds.info.a.name.startswith("T1") and ds.info.b.name.startswith("T2")
    assert sorted(ds.split_record.values()) == ["test", "train", "val"]  # one case each
    for name in ds.info.splits:
        split = ds.split(name)
        assert split.a.shape[0] == 5  # 6 slices, the empty one dropped
        assert torch.allclose(split.a, split.b, atol=1e-5)  # same case, same slice
        assert torch.equal(split.mask_a, split.mask_b)
    target_only = Brats2018({"root": str(tree), "source": "none"}, _ctx(tmp_path, 16))
    assert not target_only.info.paired and target_only.info.a == target_only.info.b


def test_brats_missing_root_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDGANBENCH_DATA_BRATS2018", raising=False)
    with pytest.raises(DataError) as error:
        Brats2018({}, _ctx(tmp_path))
    text = str(error.value)
    assert "https://www.med.upenn.edu/sbia/brats2018/registration.html" in text
    assert "MEDGANBENCH_DATA_BRATS2018" in text


def test_acdc_contract(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for p in range(1, 4):
        folder = tmp_path / "acdc" / "training" / f"patient{p:03d}"
        folder.mkdir(parents=True)
        if p == 1:  # ED/ES frames plus a segmentation that must not be read
            for f in (1, 12):
                vol = rng.uniform(0, 1, (20, 14, 4)).astype(np.float32)
                nib.save(
                    nib.Nifti1Image(vol, np.eye(4)), folder / f"patient001_frame{f:02d}.nii.gz"
                )
            (folder / "patient001_frame01_gt.nii.gz").write_text("not read")
        else:
            cine = rng.uniform(0, 1, (20, 14, 4, 5)).astype(np.float32)
            nib.save(nib.Nifti1Image(cine, np.eye(4)), folder / f"patient{p:03d}_4d.nii.gz")
    ds = Acdc({"root": str(tmp_path / "acdc")}, _ctx(tmp_path, 16))
    assert not ds.info.paired and set(ds.split_record) == {"patient001", "patient002", "patient003"}
    assert sum(ds.split_sizes().values()) == 8 + 4 + 4
    for name in ds.info.splits:
        item = ds.split(name)[0]
        assert item["a"].shape == item["b"].shape == (1, 16, 16)
        assert item["mask_a"].dtype == item["mask_b"].dtype == torch.bool
        assert item["mask_a"].shape == (1, 16, 16)


# ------------------------------------------------------------------------------------------
# End to end
# ------------------------------------------------------------------------------------------


def test_brats_runs_through_the_runner(
    tmp_path: Path, registries: Any, dirs: Mapping[str, Path]
) -> None:
    tree = _brats_tree(tmp_path / "brats", same=False)
    spec = RunSpec(
        model="identity",
        dataset="brats2018",
        dataset_args={"root": str(tree)},
        image_size=32,
        budget=Budget(steps=1),
        metrics=("psnr",),
    )
    result = execute_run(spec, registries, RunOptions(progress=False, **dirs))
    assert np.isfinite(result.metrics["psnr"])


# ------------------------------------------------------------------------------------------
# Labels and per-patient volumes
# ------------------------------------------------------------------------------------------


def test_brats_serves_the_tumour_labels_as_class_indices(tmp_path: Path) -> None:
    tree = _brats_tree(tmp_path / "brats", same=False)
    for case in (tree / "HGG").iterdir():
        seg = np.zeros((16, 16, 6), np.uint8)
        seg[2:6, 2:6, :] = 4  # enhancing tumour, stored as 4 by the challenge
        seg[8:12, 8:12, :] = 2
        nib.save(nib.Nifti1Image(seg, np.eye(4)), case / f"{case.name}_seg.nii.gz")
    for case in (tree / "LGG").iterdir():
        nib.save(
            nib.Nifti1Image(np.ones((16, 16, 6), np.uint8), np.eye(4)),
            case / f"{case.name}_seg.nii.gz",
        )
    ds = Brats2018({"root": str(tree)}, _ctx(tmp_path, 16))
    assert ds.info.labels[3] == "enhancing tumour"
    served = {
        int(v)
        for s in ds.info.splits
        for i in range(len(ds.split(s)))
        for v in ds.split(s)[i]["label_a"].unique()
    }
    assert served == {0, 1, 2, 3}


def test_a_label_value_no_class_declares_is_a_problem(tmp_path: Path) -> None:
    tree = _brats_tree(tmp_path / "brats", same=False)
    for grade in ("HGG", "LGG"):
        for case in (tree / grade).iterdir():
            seg = np.full((16, 16, 6), 3, np.uint8)  # BraTS has no class 3 in its files
            nib.save(nib.Nifti1Image(seg, np.eye(4)), case / f"{case.name}_seg.nii.gz")
    with pytest.raises(DataError, match="label map holds a value that is not a declared class"):
        Brats2018({"root": str(tree)}, _ctx(tmp_path, 16))


def test_brats_items_say_their_case_and_slice(tmp_path: Path) -> None:
    ds = Brats2018({"root": str(_brats_tree(tmp_path / "brats", same=False))}, _ctx(tmp_path, 16))
    for name in ds.info.splits:
        (case,) = ds.volume_ids(name)
        assert case.startswith("Brats18_X_") and ds.split_record[case] == name
        split = ds.split(name)
        assert [int(split[i]["slice"]) for i in range(len(split))] == [0, 1, 2, 3, 4]


def test_acdc_frames_are_volumes_of_one_patient_with_their_segmentations(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for p in range(1, 4):
        folder = tmp_path / "acdc" / "training" / f"patient{p:03d}"
        folder.mkdir(parents=True)
        for frame in (1, 12):
            name = f"patient{p:03d}_frame{frame:02d}"
            vol = rng.uniform(0.2, 1.0, (16, 16, 3)).astype(np.float32)
            nib.save(nib.Nifti1Image(vol, np.eye(4)), folder / f"{name}.nii.gz")
            gt = np.zeros((16, 16, 3), np.uint8)
            gt[4:12, 4:12] = frame % 4  # ED: right ventricle (1), ES: left ventricle (3)
            nib.save(nib.Nifti1Image(gt, np.eye(4)), folder / f"{name}_gt.nii.gz")
    ds = Acdc({"root": str(tmp_path / "acdc")}, _ctx(tmp_path, 16))
    assert ds.info.labels == ("background", "right ventricle", "myocardium", "left ventricle")
    for name in ds.info.splits:
        (patient,) = {v.split("-")[0] for v in ds.volume_ids(name, "a")}
        assert ds.volume_ids(name, "a") == [f"{patient}-frame01", f"{patient}-frame12"]
        item = ds.split(name)[0]
        assert {"volume_a", "slice_a", "label_a"} <= set(item)
        assert set(item["label_a"].unique().tolist()) <= {0, 1, 3}


@pytest.mark.slow
def test_pix2pix_on_a_brats_tree_writes_per_patient_rows_plain_pyarrow_reads(
    tmp_path: Path,
) -> None:
    """Issue 29's end-to-end case, through the command line: a paired volume dataset's run gets
    per-patient (eval_unit=volume) rows beside the per-slice ones, in a file any Arrow reader
    opens without this package."""
    import subprocess
    import sys

    import pyarrow.ipc

    tree = _brats_tree(tmp_path / "brats", same=False)
    command = [sys.executable, "-m", "medganbench", "run", "--model", "pix2pix", "--dataset",
               "brats2018", "--data-dir", str(tree), "--image-size", "32", "--budget", "steps=2",
               "--model-arg", "ngf=8", "--model-arg", "ndf=8", "--metrics", "psnr,mae",
               "--leaderboard-dir", "boards", "--no-progress"]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pyarrow.ipc.open_file(tmp_path / "boards" / "brats2018.arrow").read_all().to_pylist()
    units = {(r["eval_unit"], r["metric"]) for r in rows}
    assert units == {(u, m) for u in ("slice", "volume") for m in ("psnr", "mae")}
    volume = [r for r in rows if r["eval_unit"] == "volume"]
    assert all(r["model"] == "pix2pix" and r["eval_grid"] == "image_size" for r in volume)
    assert all(np.isfinite(r["value"]) for r in rows)
