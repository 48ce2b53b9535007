"""The volume datasets (synthrad2023, synthrad2025, paired- and unpaired-volume-folder) on small
generated trees in their real layouts (tests/dataset_trees.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.manager import Registries
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY, VolumeSource
from medganbench.data import read_volume
from medganbench.errors import DataError
from medganbench_plugins.datasets.synthrad import SYNTHRAD2023, SYNTHRAD2025
from tests.dataset_trees import dicom_trees, paired_patients, patient_volumes, write_volume

SIZE = 32


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tree per layout, shared by the module's tests (copied where a test edits it)."""
    root = tmp_path_factory.mktemp("volume-trees")
    paired_patients(root / "sr23" / "Task1" / "brain")
    paired_patients(root / "sr23" / "Task2" / "brain", source="cbct")
    paired_patients(root / "sr25" / "Task1" / "HN", suffix=".mha")
    paired_patients(root / "nifti")
    dicom_trees(root / "dicom")
    return root


def _build(registries: Registries, name: str, root: Path, tmp: Path, **args: str):  # type: ignore[no-untyped-def]
    spec = registries.datasets.get(name)
    return spec.build({"root": str(root), **args}, DatasetContext(SIZE, tmp / "cache"))


def test_synthrad2023_splits_by_patient_and_items_say_their_volume(
    registries: Registries, trees: Path, tmp_path: Path
) -> None:
    dataset = _build(registries, "synthrad2023", trees / "sr23", tmp_path, region="brain")
    assert isinstance(dataset, VolumeSource) and dataset.info.paired
    assert dataset.info.b.units == "HU" and dataset.info.a.modality == "MR"
    seen: dict[str, str] = {}
    for split in dataset.info.splits:
        ids = dataset.volume_ids(split)
        assert len(ids) == 1  # 3 patients: one per split
        seen.update({i: split for i in ids})
        items = [dataset.split(split)[i] for i in range(len(dataset.split(split)))]
        assert {int(it[VOLUME_KEY]) for it in items} == {0}
        assert sorted(int(it[SLICE_KEY]) for it in items) == list(range(8))
        assert all(it["mask_b"].any() and torch.equal(it["mask_a"], it["mask_b"]) for it in items)
    assert seen == dataset.split_record  # the recorded split is the served one
    assert sorted(seen) == ["1XA000", "1XA001", "1XA002"]


def test_synthrad2023_source_cbct_reads_task2(
    registries: Registries, trees: Path, tmp_path: Path
) -> None:
    dataset = _build(registries, "synthrad2023", trees / "sr23", tmp_path, source="cbct")
    assert dataset.info.a.modality == "CBCT" and dataset.info.a.units == "HU"
    item = dataset.split("test")[0]
    assert float(item["a"].min()) < -900  # CBCT in HU (air), not MR normalised to [0, 1]


def test_metaimage_is_read_in_nifti_order_with_its_spacing(trees: Path) -> None:
    volume = read_volume(trees / "sr25" / "Task1" / "HN" / "1XA001" / "ct.mha")
    assert volume.data.shape == (20, 24, 8) and volume.spacing == (1.0, 1.0, 2.5)
    np.testing.assert_allclose(volume.data, patient_volumes(1)["ct"])


def test_synthrad2025_reads_mha_patients(
    registries: Registries, trees: Path, tmp_path: Path
) -> None:
    dataset = _build(registries, "synthrad2025", trees / "sr25", tmp_path, region="HN")
    assert sum(len(dataset.volume_ids(s)) for s in dataset.info.splits) == 3


@pytest.mark.parametrize(
    ("bad", "match"),
    [((20, 24, 7), "different shapes"), ((1.0, 1.0, 3.0), "different voxel spacings")],
    ids=["shape", "spacing"],
)
def test_disagreeing_volumes_are_refused_naming_the_patient_folder(
    registries: Registries, trees: Path, tmp_path: Path, bad: tuple, match: str
) -> None:
    root = tmp_path / "tree"
    shutil.copytree(trees / "nifti", root)
    vols = patient_volumes(1)
    if len(bad) == 3 and isinstance(bad[0], int):
        write_volume(root / "1XA001" / "ct.nii.gz", np.zeros(bad, np.float32))
    else:
        write_volume(root / "1XA001" / "ct.nii.gz", vols["ct"], spacing=bad)
    with pytest.raises(DataError, match=match) as info:
        _build(registries, "paired-volume-folder", root, tmp_path)
    assert info.value.message.startswith("1XA001:")


def test_bad_patient_is_skipped_and_counted_when_not_strict(
    registries: Registries, trees: Path, tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    shutil.copytree(trees / "nifti", root)
    (root / "1XA002" / "ct.nii.gz").write_bytes(b"not a volume")
    paired_patients(root / "more", n=1)  # a fourth patient keeps three splits possible
    shutil.move(root / "more" / "1XA000", root / "1XA003")
    shutil.rmtree(root / "more")
    dataset = _build(registries, "paired-volume-folder", root, tmp_path, strict="false")
    assert sum(len(dataset.volume_ids(s)) for s in dataset.info.splits) == 3


def test_paired_volume_folder_keys_patients_by_hash(
    registries: Registries, trees: Path, tmp_path: Path
) -> None:
    dataset = _build(registries, "paired-volume-folder", trees / "nifti", tmp_path)
    keys = [k for s in dataset.info.splits for k in dataset.volume_ids(s)]
    assert len(keys) == 3 and not any("1XA" in k for k in keys)


def test_unpaired_volume_folder_reads_two_dicom_trees(
    registries: Registries, trees: Path, tmp_path: Path
) -> None:
    dataset = _build(registries, "unpaired-volume-folder", trees / "dicom", tmp_path)
    assert not dataset.info.paired
    assert (dataset.info.a.modality, dataset.info.b.modality) == ("MR", "CT")
    record = dataset.split_record
    assert len(record) == 6 and {k[:2] for k in record} == {"A/", "B/"}
    assert not any("patient" in k or "MR0" in k for k in record)  # no folder name, no PatientID
    item = dataset.split("train")[0]
    assert float(item["a"].max()) <= 1.0 and float(item["b"].min()) < -500  # MR a.u., CT HU


@pytest.mark.parametrize("descriptor", [SYNTHRAD2023, SYNTHRAD2025], ids=lambda d: d.name)
def test_download_says_where_the_data_are_published_and_the_licence(
    descriptor, tmp_path: Path
) -> None:
    ctx = DatasetContext(SIZE, tmp_path / "cache")
    spec = descriptor.spec()
    with pytest.raises(DataError) as info:
        spec.downloader()(spec.resolve({}), ctx, lambda message: None)
    assert "zenodo" in info.value.hint and "licence: CC BY-NC 4.0" in info.value.hint
