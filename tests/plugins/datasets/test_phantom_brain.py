"""Tests of the embedded ``phantom-brain`` dataset (generator, contract, splits, cache)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.specs import DatasetSpec
from medganbench.data import SliceSplit
from medganbench.errors import UsageError
from medganbench_plugins.datasets.phantom_brain import (
    LABELS,
    PARAMS,
    PhantomBrain,
    medganbench_datasets,
)
from medganbench_plugins.datasets.phantom_tissues import Label

#: Small but complete: every split has two subjects of two slices.
SMALL: dict[str, Any] = {
    "train_subjects": 2,
    "val_subjects": 2,
    "test_subjects": 2,
    "slices_per_subject": 2,
}


def make(tmp: Path, size: int = 32, **overrides: Any) -> PhantomBrain:
    """A small phantom dataset caching under ``tmp``."""
    return PhantomBrain({**SMALL, **overrides}, DatasetContext(image_size=size, cache_dir=tmp))


def stacked(split: SliceSplit) -> dict[str, torch.Tensor]:
    """All items of a split stacked along a batch dimension, read through ``__getitem__``."""
    items = [split[i] for i in range(len(split))]
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


def radius_map(size: int) -> torch.Tensor:
    """Distance of each pixel centre from the image centre, in half-FOV units."""
    centres = (torch.arange(size) + 0.5) / size * 2 - 1
    return torch.hypot(centres[None, :], centres[:, None])


@pytest.fixture(scope="module")
def ds64(tmp_path_factory: pytest.TempPathFactory) -> PhantomBrain:
    """A 64 px T1 dataset with enough slices for intensity statistics."""
    return make(tmp_path_factory.mktemp("cache64"), size=64, slices_per_subject=4)


def test_hook_registers_phantom_brain_with_its_arguments() -> None:
    (spec,) = medganbench_datasets()
    assert isinstance(spec, DatasetSpec)
    assert spec.name == "phantom-brain"
    assert spec.load() is PhantomBrain
    assert [p.name for p in spec.params] == [
        "train_subjects",
        "val_subjects",
        "test_subjects",
        "slices_per_subject",
        "seed",
        "weighting",
        "paired",
        "domain",
    ]
    assert all(p.help for p in PARAMS)


@pytest.mark.parametrize(
    ("weighting", "name"), [("t1", "T1-weighted MR"), ("t2", "T2-weighted MR")]
)
def test_info_declares_mr_and_ct_domains(tmp_path: Path, weighting: str, name: str) -> None:
    info = make(tmp_path, weighting=weighting).info
    a, b = info.a, info.b
    assert (a.name, a.modality, a.units, a.window) == (name, "MR", "a.u.", (0.0, 1.0))
    assert (b.name, b.modality, b.units, b.window) == ("CT", "CT", "HU", (-1024.0, 3000.0))
    assert info.paired is True
    assert info.splits == ("train", "val", "test")
    assert info.image_size == 32


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_items_have_contract_shapes_and_dtypes(tmp_path: Path, split: str) -> None:
    data = make(tmp_path).split(split)
    assert len(data) == 2 * 2  # subjects × slices
    item = data[0]
    # A paired phantom's subjects are volumes: each item says its subject and slice; the
    # tissue classes come as label maps.
    assert set(item) == {"a", "b", "mask_a", "mask_b", "label_a", "label_b", "volume", "slice"}
    assert item["volume"].dtype == item["slice"].dtype == torch.int64
    expected = {"a": torch.float32, "b": torch.float32, "mask_a": torch.bool, "mask_b": torch.bool}
    for key, dtype in expected.items():
        assert item[key].dtype == dtype, key
        assert item[key].shape == (1, 32, 32), key


@pytest.mark.parametrize("size", [32, 96])
def test_images_have_exactly_the_requested_size(tmp_path: Path, size: int) -> None:
    item = make(tmp_path, size=size, slices_per_subject=1).split("val")[0]
    images = [t for key, t in item.items() if key not in ("volume", "slice")]
    assert len(images) == 6 and all(t.shape == (1, size, size) for t in images)


def test_ct_brain_tissue_is_near_soft_tissue_hu(ds64: PhantomBrain) -> None:
    ct = stacked(ds64.split("train"))["b"][:, 0]
    centre = radius_map(64) < 0.25  # well inside the inner bone table at every level
    assert 20.0 <= ct[:, centre].median().item() <= 50.0


def test_ct_air_is_minus_1000_hu(ds64: PhantomBrain) -> None:
    items = stacked(ds64.split("train"))
    air = ~items["mask_b"][:, 0] & (radius_map(64) > 0.95)  # image corners, outside the head
    assert abs(items["b"][:, 0][air].median().item() + 1000.0) < 5.0


def test_ct_skull_reaches_cortical_bone_hu(ds64: PhantomBrain) -> None:
    ct = stacked(ds64.split("train"))["b"][:, 0]
    assert (ct.amax(dim=(1, 2)) > 900.0).all()  # every slice shows its skull


def test_mr_bone_and_air_are_both_dark(ds64: PhantomBrain) -> None:
    # Cortical bone has few mobile protons and a T2 of about a millisecond, so its spin-echo
    # signal has decayed before the echo; air has no protons at all. Both are dark on MR (only
    # the Rician noise floor remains) although CT puts them 2000 HU apart: MR→CT cannot be
    # solved by an intensity lookup table.
    items = stacked(ds64.split("train"))
    mr, ct = items["a"][:, 0], items["b"][:, 0]
    bone = ct > 900.0
    air = ~items["mask_a"][:, 0] & (radius_map(64) > 0.95)
    brain = radius_map(64) < 0.25
    assert mr[bone].mean().item() < 0.1
    assert mr[air].mean().item() < 0.1
    assert mr[:, brain].median().item() > 0.2  # so "dark" is relative to real tissue signal


def test_t2_weighting_makes_csf_brighter_than_brain(tmp_path: Path) -> None:
    # CSF has a long T1 and T2: dark on T1-weighted, bright on T2-weighted images. The brightest
    # pixels of the brain's centre (ventricles at mid levels) should follow.
    def centre_contrast(weighting: str) -> float:
        ds = make(tmp_path, size=64, weighting=weighting, slices_per_subject=3)
        mr = stacked(ds.split("train"))["a"][:, 0]
        centre = mr[:, radius_map(64) < 0.3]
        return (centre.quantile(0.99) - centre.median()).item()

    assert centre_contrast("t2") > 2 * centre_contrast("t1")


def test_mr_values_fit_the_declared_window(ds64: PhantomBrain) -> None:
    mr = stacked(ds64.split("train"))["a"]
    assert mr.min().item() >= 0.0  # magnitude images are non-negative
    assert (mr > 1.0).float().mean().item() < 0.001


def test_paired_items_share_anatomy(ds64: PhantomBrain) -> None:
    items = stacked(ds64.split("val"))
    assert torch.equal(items["mask_a"], items["mask_b"])
    # The CT head outline and the declared mask agree almost everywhere (partial-volume edges).
    head_on_ct = items["b"] > -500.0
    assert (head_on_ct == items["mask_b"]).float().mean().item() > 0.98


def test_same_arguments_give_identical_tensors(tmp_path: Path) -> None:
    first = stacked(make(tmp_path / "one").split("train"))
    second = stacked(make(tmp_path / "two").split("train"))  # separate caches: both generate
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    first = stacked(make(tmp_path, seed=0).split("train"))
    second = stacked(make(tmp_path, seed=1).split("train"))
    assert not torch.equal(first["a"], second["a"])
    assert not torch.equal(first["mask_a"], second["mask_a"])


def test_splits_hold_disjoint_subjects(tmp_path: Path) -> None:
    ds = make(tmp_path)
    ids = {name: set(ds.volume_ids(name, "a")) for name in ds.info.splits}
    assert ids["train"].isdisjoint(ids["val"])
    assert ids["train"].isdisjoint(ids["test"])
    assert ids["val"].isdisjoint(ids["test"])
    # Different ids are different anatomy, not relabelled copies.
    train_masks = stacked(ds.split("train"))["mask_a"]
    for mask in stacked(ds.split("test"))["mask_a"]:
        assert not any(torch.equal(mask, other) for other in train_masks)


def test_each_subject_contributes_slices_per_subject_items(tmp_path: Path) -> None:
    data = make(tmp_path, train_subjects=3, slices_per_subject=3).split("train")
    subjects = [data.volume_ids("a")[int(data[i]["volume"])] for i in range(len(data))]
    counts = {sid: subjects.count(sid) for sid in set(subjects)}
    assert counts == {"train-000": 3, "train-001": 3, "train-002": 3}


def test_more_training_subjects_leave_the_test_split_unchanged(tmp_path: Path) -> None:
    small = stacked(make(tmp_path, train_subjects=2).split("test"))
    large = stacked(make(tmp_path, train_subjects=3).split("test"))
    assert torch.equal(small["a"], large["a"])


def test_unpaired_mode_draws_a_and_b_from_disjoint_subjects(tmp_path: Path) -> None:
    ds = make(tmp_path, paired=False, train_subjects=4, val_subjects=2, test_subjects=3)
    assert ds.info.paired is False
    for name in ds.info.splits:
        data = ds.split(name)
        assert len(data) > 0
        assert set(data.volume_ids("a")).isdisjoint(data.volume_ids("b")), name
        items = stacked(data)
        assert not torch.equal(items["mask_a"], items["mask_b"]), name


def test_cache_file_is_created_under_a_key_of_the_fingerprint(tmp_path: Path) -> None:
    ds = make(tmp_path)
    ds.split("train")
    assert ds.generated is True
    assert ds.cache_path.parent == tmp_path
    assert ds.cache_path.is_file()
    assert make(tmp_path, seed=1).cache_path != ds.cache_path
    assert [p.name for p in tmp_path.iterdir()] == [ds.cache_path.name]  # no temp file left


def test_cache_is_reused_without_regenerating(tmp_path: Path) -> None:
    first = make(tmp_path)
    original = stacked(first.split("train"))
    before = first.cache_path.stat().st_mtime_ns
    second = make(tmp_path)
    reloaded = stacked(second.split("train"))
    assert second.generated is False
    assert second.cache_path.stat().st_mtime_ns == before
    assert all(torch.equal(original[k], reloaded[k]) for k in original)


def test_corrupt_cache_is_regenerated(tmp_path: Path) -> None:
    first = make(tmp_path)
    original = stacked(first.split("test"))
    first.cache_path.write_bytes(b"not a torch file")
    second = make(tmp_path)
    regenerated = stacked(second.split("test"))
    assert second.generated is True
    assert all(torch.equal(original[k], regenerated[k]) for k in original)
    third = make(tmp_path)
    third.split("test")
    assert third.generated is False  # the regenerated file was written back and is readable


def test_truncated_cache_is_regenerated(tmp_path: Path) -> None:
    first = make(tmp_path)
    first.split("val")
    data = first.cache_path.read_bytes()
    first.cache_path.write_bytes(data[: len(data) // 2])
    second = make(tmp_path)
    second.split("val")
    assert second.generated is True


def test_unknown_split_raises_usage_error_naming_known_splits(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as excinfo:
        make(tmp_path).split("validation")
    assert "train, val, test" in str(excinfo.value)


def test_fingerprint_is_16_hex_and_tracks_arguments_and_size(tmp_path: Path) -> None:
    base = make(tmp_path).fingerprint()
    assert re.fullmatch(r"[0-9a-f]{16}", base)
    assert make(tmp_path).fingerprint() == base
    assert make(tmp_path, seed=1).fingerprint() != base
    assert make(tmp_path, weighting="t2").fingerprint() != base
    assert make(tmp_path, size=64).fingerprint() != base


def test_fingerprint_does_not_generate(tmp_path: Path) -> None:
    ds = make(tmp_path)
    ds.fingerprint()
    assert ds.generated is None
    assert not os.listdir(tmp_path)


def test_unknown_argument_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        make(tmp_path, subjects=3)


def test_too_small_image_size_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        make(tmp_path, size=8)


def test_single_domain_view_delivers_ct_as_a_and_b_unpaired(tmp_path: Path) -> None:
    both = make(tmp_path)
    ct_only = make(tmp_path, domain="b")
    assert ct_only.info.a == ct_only.info.b == both.info.b and not ct_only.info.paired
    split = ct_only.split("test")
    assert torch.equal(split.a, both.split("test").b) and torch.equal(split.a, split.b)
    assert ct_only.fingerprint() != both.fingerprint()


def test_subjects_are_the_volumes_of_per_patient_evaluation(tmp_path: Path) -> None:
    dataset = make(tmp_path)
    split = dataset.split("test")
    assert dataset.volume_ids("test") == ["test-000", "test-001"]
    where = [(int(split[i]["volume"]), int(split[i]["slice"])) for i in range(len(split))]
    assert where == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_items_carry_the_tissue_label_maps(tmp_path: Path) -> None:
    dataset = make(tmp_path)
    assert dataset.info.labels == LABELS and LABELS[Label.LESION] == "lesion"
    items = stacked(dataset.split("train"))
    assert items["label_a"].dtype == torch.int64 and items["label_a"].shape == items["a"].shape
    assert torch.equal(items["label_a"], items["label_b"])  # paired: one anatomy
    assert int(items["label_a"].max()) < len(LABELS)
    # Air outside the head, bone where CT is bone-bright.
    assert (items["label_a"][~items["mask_a"]] == Label.AIR).float().mean() > 0.95
    bone = items["label_b"] == Label.BONE
    assert float(items["b"][bone].mean()) > 600.0


def test_unpaired_items_say_each_domains_subject_and_slice(tmp_path: Path) -> None:
    dataset = make(tmp_path, paired=False, train_subjects=4, val_subjects=2, test_subjects=2)
    split = dataset.split("test")
    item = split[0]
    assert "volume" not in item and {"volume_a", "slice_a", "volume_b", "slice_b"} <= set(item)
    assert dataset.volume_ids("test", "a") == ["test-000"]
    assert dataset.volume_ids("test", "b") == ["test-001"]
