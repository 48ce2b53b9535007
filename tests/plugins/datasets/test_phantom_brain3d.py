"""Tests of the embedded ``phantom-brain-3d`` dataset (contract, physics, splits, cache, and the
declared geometry checked against the 2-D phantom's anatomy)."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.geometry import PLANE_AXES, VolumeGeometry, mid_slices
from medganbench.core.specs import DatasetSpec
from medganbench.data import SliceSplit
from medganbench.errors import UsageError
from medganbench_plugins.datasets.phantom_anatomy import LEVEL_RANGE, LEVEL_TO_FOV, sample_subject
from medganbench_plugins.datasets.phantom_brain3d import (
    LABELS,
    PARAMS,
    PhantomBrain3D,
    medganbench_datasets,
)
from medganbench_plugins.datasets.phantom_render import SliceDraws, render_slice
from medganbench_plugins.datasets.phantom_tissues import SEQUENCES, Label
from medganbench_plugins.datasets.phantom_volume import plane_levels

#: Small but complete: every split has two subjects.
SMALL: dict[str, Any] = {"train_subjects": 2, "val_subjects": 2, "test_subjects": 2}
#: The random stream of the test split (the 2-D phantom's too: subject i is the same head).
TEST_STREAM = 2
#: The frame the 2-D phantom's slices are read in: level up (superior), image rows y down
#: (posterior: caudate heads and frontal horns at -y, thalami at +y), columns x toward the
#: patient's left (radiological display).
FRAME_2D = "SPL"


def make(tmp: Path, size: int = 32, **overrides: Any) -> PhantomBrain3D:
    """A small 3-D phantom dataset caching under ``tmp``."""
    return PhantomBrain3D({**SMALL, **overrides}, DatasetContext(image_size=size, cache_dir=tmp))


def stacked(split: SliceSplit) -> dict[str, torch.Tensor]:
    """All items of a split stacked along a batch dimension, read through ``__getitem__``."""
    items = [split[i] for i in range(len(split))]
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


def radius_map(size: int) -> torch.Tensor:
    """Distance of each voxel centre from the cube's centre, in half-side units."""
    c = (torch.arange(size) + 0.5) / size * 2 - 1
    return torch.sqrt(c[:, None, None] ** 2 + c[None, :, None] ** 2 + c[None, None, :] ** 2)


def reorient(volume: np.ndarray, orientation: str, target: str = FRAME_2D) -> np.ndarray:
    """``volume`` (axes labelled by nibabel codes ``orientation``) as axes ``target``."""
    axis_of = {c: pair for pair in PLANE_AXES.values() for c in pair}
    order = [next(i for i, c in enumerate(orientation) if axis_of[c] == axis_of[t]) for t in target]
    out = np.transpose(volume, order)
    flips = tuple(k for k, t in enumerate(target) if orientation[order[k]] != t)
    return np.flip(out, flips) if flips else out


def every_orientation() -> list[str]:
    """All 48 nibabel orientation codes of three axes."""
    return [
        "".join(pair[s] for pair, s in zip(axes, signs, strict=True))
        for axes in itertools.permutations(["SI", "AP", "LR"])
        for signs in itertools.product((0, 1), repeat=3)
    ]


def reference_slices(seed: int, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Test subject ``index``'s 2-D phantom slices (no warp) at the volume's plane levels in
    increasing order, and those levels: (S, size, size) labels, (S,) levels."""
    subject = sample_subject(
        np.random.default_rng(np.random.SeedSequence([seed, TEST_STREAM, index, 0]))
    )
    flat = SliceDraws(np.zeros((5, 5)), np.zeros((5, 5)), np.zeros((3, 3)), 0.0)
    levels = np.sort(plane_levels(size, subject.level_offset))
    seq = SEQUENCES["t1"]
    rng = np.random.default_rng(0)  # noise only; labels do not use it
    labels = [render_slice(subject, float(lv), flat, size, seq, rng).labels for lv in levels]
    return np.stack(labels), levels


def agreement(labels: np.ndarray, reference: np.ndarray) -> float:
    """Fraction of the voxels in either head where the tissue labels agree."""
    head = (labels != Label.AIR) | (reference != Label.AIR)
    return float(((labels == reference) & head).sum() / head.sum())


def head_millilitres(dataset: PhantomBrain3D, mask: torch.Tensor) -> float:
    """The volume of a head mask in ml, from the dataset's declared voxel spacing."""
    geometry = dataset.info.volume
    assert geometry is not None and geometry.spacing is not None
    return float(mask.sum()) * float(np.prod(geometry.spacing)) / 1000.0


@pytest.fixture(scope="module")
def ds32(tmp_path_factory: pytest.TempPathFactory) -> PhantomBrain3D:
    """The small dataset at 32³, generated once for the module."""
    ds = make(tmp_path_factory.mktemp("cache32"))
    ds.split("train")
    return ds


@pytest.fixture(scope="module")
def ds16(tmp_path_factory: pytest.TempPathFactory) -> PhantomBrain3D:
    """The small dataset at 16³ (quick to generate again), for comparisons between arguments."""
    ds = make(tmp_path_factory.mktemp("cache16"), size=16)
    ds.split("train")
    return ds


def test_hook_registers_a_volume_dataset_with_its_arguments() -> None:
    (spec,) = medganbench_datasets()
    assert isinstance(spec, DatasetSpec)
    assert spec.name == "phantom-brain-3d" and spec.spatial_dims == 3
    assert spec.load() is PhantomBrain3D
    assert [p.name for p in spec.params] == [
        "train_subjects",
        "val_subjects",
        "test_subjects",
        "seed",
        "weighting",
        "paired",
    ]
    assert all(p.help for p in PARAMS)
    assert spec.is_paired({}) and not spec.is_paired({"paired": "false"})


@pytest.mark.parametrize(
    ("weighting", "name"), [("t1", "T1-weighted MR"), ("t2", "T2-weighted MR")]
)
def test_info_declares_domains_and_geometry(tmp_path: Path, weighting: str, name: str) -> None:
    info = make(tmp_path, weighting=weighting).info
    a, b = info.a, info.b
    assert (a.name, a.modality, a.units, a.window) == (name, "MR", "a.u.", (0.0, 1.0))
    assert (b.name, b.modality, b.units, b.window) == ("CT", "CT", "HU", (-1024.0, 3000.0))
    assert info.paired is True and info.splits == ("train", "val", "test")
    assert info.image_size == 32 and info.labels == LABELS and info.spatial_dims == 3
    assert info.volume == VolumeGeometry(
        (32, 32, 32), (6.25, 6.25, 6.25), "SPL", crop="whole head resampled to 32³"
    )


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_items_are_whole_volumes_of_the_contract(ds32: PhantomBrain3D, split: str) -> None:
    data = ds32.split(split)
    assert len(data) == 2  # one item per subject
    item = data[1]
    assert set(item) == {"a", "b", "mask_a", "mask_b", "label_a", "label_b", "volume", "slice"}
    expected = {
        "a": torch.float32,
        "b": torch.float32,
        "mask_a": torch.bool,
        "mask_b": torch.bool,
        "label_a": torch.int64,
        "label_b": torch.int64,
    }
    for key, dtype in expected.items():
        assert item[key].dtype == dtype, key
        assert item[key].shape == (1, 32, 32, 32), key
    # Its subject, as a whole volume: axial start 0.
    assert (int(item["volume"]), int(item["slice"])) == (1, 0)
    assert item["volume"].dtype == item["slice"].dtype == torch.int64


def test_subjects_are_the_volumes_of_per_patient_evaluation(ds32: PhantomBrain3D) -> None:
    assert ds32.volume_ids("test") == ["test-000", "test-001"]
    assert ds32.volume_ids("val", "a") == ["val-000", "val-001"]


def test_ct_is_in_hounsfield_units(ds32: PhantomBrain3D) -> None:
    ct = stacked(ds32.split("train"))["b"][:, 0]
    assert abs(ct[:, radius_map(32) > 1.2].median().item() + 1000.0) < 5.0  # corners: air
    assert 20.0 <= ct[:, radius_map(32) < 0.25].median().item() <= 50.0  # brain: soft tissue
    # Every head shows its skull, though at 6.25 mm a voxel mixes the 3 mm tables with marrow.
    assert (ct.amax(dim=(1, 2, 3)) > 700.0).all()
    assert (ct < 3000.0).all()  # inside the declared window


def test_mr_is_magnitude_in_the_declared_window(ds32: PhantomBrain3D) -> None:
    mr = stacked(ds32.split("train"))["a"]
    assert mr.min().item() >= 0.0
    assert (mr > 1.0).float().mean().item() < 0.001
    assert mr[:, 0][:, radius_map(32) < 0.25].median().item() > 0.2  # brain has signal


def test_masks_and_labels_align_with_the_images(ds32: PhantomBrain3D) -> None:
    items = stacked(ds32.split("train"))
    labels, mask = items["label_b"], items["mask_b"]
    assert int(labels.max()) < len(LABELS)
    assert (labels[~mask] == Label.AIR).float().mean() > 0.99  # no tissue outside the mask
    assert ((labels != Label.AIR) == mask).float().mean() > 0.97
    bone = items["b"][labels == Label.BONE].mean().item()
    brain = items["b"][(labels == Label.GRAY) | (labels == Label.WHITE)].mean().item()
    assert bone > 500.0 and bone > brain + 400.0  # CT is bright where the label says bone
    assert items["a"][labels == Label.AIR].mean().item() < 0.1  # MR is dark where it says air


def test_paired_items_show_the_same_anatomy(ds32: PhantomBrain3D) -> None:
    items = stacked(ds32.split("val"))
    assert torch.equal(items["mask_a"], items["mask_b"])
    assert torch.equal(items["label_a"], items["label_b"])
    head_on_ct = items["b"] > -500.0
    assert (head_on_ct == items["mask_b"]).float().mean().item() > 0.98
    head_on_mr = items["a"] > 0.1
    assert (head_on_mr == items["mask_a"]).float().mean().item() > 0.9


def test_weighting_changes_mr_contrast_only(tmp_path: Path, ds16: PhantomBrain3D) -> None:
    t1 = stacked(ds16.split("test"))
    t2 = stacked(make(tmp_path, size=16, weighting="t2").split("test"))
    assert torch.equal(t1["b"], t2["b"]) and torch.equal(t1["label_a"], t2["label_a"])
    # CSF has long T1 and T2: darker than white matter on T1-weighted images, brighter on
    # T2-weighted ones.
    csf, white = t1["label_a"] == Label.CSF, t1["label_a"] == Label.WHITE
    assert t1["a"][csf].mean() < t1["a"][white].mean() - 0.1
    assert t2["a"][csf].mean() > t2["a"][white].mean() + 0.1


def test_same_arguments_give_identical_bytes(tmp_path: Path, ds16: PhantomBrain3D) -> None:
    again = make(tmp_path, size=16)  # a cache of its own: generated anew
    assert again.fingerprint() == ds16.fingerprint()
    for name in ("train", "val", "test"):
        first, second = stacked(ds16.split(name)), stacked(again.split(name))
        assert all(torch.equal(first[k], second[k]) for k in first), name
    assert again.generated is True


def test_different_seed_gives_different_data(tmp_path: Path, ds16: PhantomBrain3D) -> None:
    other = make(tmp_path, size=16, seed=1)
    assert other.fingerprint() != ds16.fingerprint()
    first, second = stacked(ds16.split("train")), stacked(other.split("train"))
    assert not torch.equal(first["a"], second["a"])
    assert not torch.equal(first["mask_a"], second["mask_a"])


def test_splits_hold_disjoint_subjects(ds32: PhantomBrain3D) -> None:
    ids = {name: set(ds32.volume_ids(name, "a")) for name in ds32.info.splits}
    assert ids["train"].isdisjoint(ids["val"]) and ids["train"].isdisjoint(ids["test"])
    assert ids["val"].isdisjoint(ids["test"])
    masks = {name: stacked(ds32.split(name))["mask_a"] for name in ds32.info.splits}
    for name, other in (("train", "val"), ("train", "test"), ("val", "test")):
        for mask in masks[name]:
            assert not any(torch.equal(mask, m) for m in masks[other]), (name, other)


def test_more_training_subjects_leave_the_other_splits_unchanged(
    tmp_path: Path, ds16: PhantomBrain3D
) -> None:
    larger = make(tmp_path, size=16, train_subjects=3)
    assert len(larger.split("train")) == 3
    for name in ("val", "test"):
        small, large = stacked(ds16.split(name)), stacked(larger.split(name))
        assert all(torch.equal(small[k], large[k]) for k in small), name


def test_unpaired_mode_draws_a_and_b_from_disjoint_subjects(tmp_path: Path) -> None:
    ds = make(tmp_path, size=16, paired=False, train_subjects=4, val_subjects=2, test_subjects=3)
    assert ds.info.paired is False
    for name in ds.info.splits:
        data = ds.split(name)
        assert len(data) == {"train": 2, "val": 1, "test": 1}[name]
        assert set(data.volume_ids("a")).isdisjoint(data.volume_ids("b")), name
        item = data[0]
        assert not torch.equal(item["mask_a"], item["mask_b"]), name
        assert {"volume_a", "slice_a", "volume_b", "slice_b"} <= set(item), name


def test_cache_is_reused_without_regenerating(ds32: PhantomBrain3D) -> None:
    again = make(ds32.cache_path.parent)
    assert again.cache_path == ds32.cache_path and again.cache_path.is_file()
    reloaded = stacked(again.split("test"))
    assert again.generated is False
    original = stacked(ds32.split("test"))
    assert all(torch.equal(original[k], reloaded[k]) for k in original)


def test_fingerprint_tracks_arguments_and_size_without_generating(tmp_path: Path) -> None:
    base = make(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{16}", base.fingerprint())
    assert make(tmp_path).fingerprint() == base.fingerprint()
    others = [
        make(tmp_path, seed=1),
        make(tmp_path, weighting="t2"),
        make(tmp_path, paired=False),
        make(tmp_path, size=48),
    ]
    assert len({base.fingerprint(), *(o.fingerprint() for o in others)}) == 5
    assert base.generated is None and not os.listdir(tmp_path)


@pytest.mark.parametrize("size", [8, 15, 129])
def test_sizes_out_of_range_are_rejected(tmp_path: Path, size: int) -> None:
    with pytest.raises(UsageError, match="16 to 128"):
        make(tmp_path, size=size)


def test_unknown_argument_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        make(tmp_path, slices_per_subject=3)  # a 2-D phantom argument: items are whole heads


@pytest.mark.parametrize("size", [24, 25])
def test_sizes_that_are_not_powers_of_two_give_the_same_head(
    tmp_path: Path, ds32: PhantomBrain3D, size: int
) -> None:
    ds = make(tmp_path, size=size)
    item = ds.split("test")[0]
    shapes = {key: tuple(item[key].shape) for key in ("a", "b", "mask_a", "label_b")}
    assert set(shapes.values()) == {(1, size, size, size)}
    assert ds.info.volume is not None and ds.info.volume.spacing == (200.0 / size,) * 3
    # The same subject is the same continuous object at every size: its head's volume in ml
    # agrees with the 32³ one.
    at_32 = head_millilitres(ds32, ds32.split("test")[0]["mask_a"])
    assert head_millilitres(ds, item["mask_a"]) == pytest.approx(at_32, rel=0.04)


def test_planes_are_as_far_apart_as_voxels_in_plane() -> None:
    # Isotropic voxels in the phantom's own units: level steps, turned into FOV units, equal
    # the in-plane pixel step of the [-1, 1] field of view.
    for size in (16, 25, 32, 64):
        steps = np.diff(plane_levels(size, 0.013)) * LEVEL_TO_FOV
        assert steps == pytest.approx(np.full(size - 1, 2.0 / size))


def test_axial_mid_slice_is_the_2d_phantoms_axial_slice(ds32: PhantomBrain3D) -> None:
    # Taken as the runner takes it (the declared orientation names the axial axis), the mid
    # axial slice of the labels is the 2-D phantom's slice of the same subject at that level,
    # once its two axes are read by their letters; the coronal and sagittal mid slices are not.
    # (Which way the axial axis runs hardly shows at the middle: the next test checks that.)
    geometry = ds32.info.volume
    assert geometry is not None
    slices = {
        k: v[0].numpy() for k, v in mid_slices(ds32.split("test")[0]["label_a"], geometry).items()
    }
    axis = geometry.plane_axis("axial")
    reference, _ = reference_slices(0, 0, 32)  # inferior to superior
    level = 16 if geometry.orientation[axis] == "S" else 31 - 16
    expected = reference[level]
    in_plane = "".join(c for i, c in enumerate(geometry.orientation) if i != axis)
    axial = agreement(reorient(slices["axial"], in_plane, FRAME_2D[1:]), expected)
    assert axial > 0.7
    assert agreement(slices["coronal"], expected) < axial - 0.2
    assert agreement(slices["sagittal"], expected) < axial - 0.2


def test_declared_orientation_is_the_one_matching_the_2d_phantom(ds32: PhantomBrain3D) -> None:
    # Read through each of the 48 possible orientations, the volumes are compared with the 2-D
    # phantom's slices of the same subjects (its frame: level up, y posterior, x left) over
    # the levels its slices cover. The declared orientation must be the one that fits best:
    # any wrong letter (an axis swapped or flipped) reads the volume in another frame.
    geometry = ds32.info.volume
    assert geometry is not None
    test = ds32.split("test")
    scores = dict.fromkeys(every_orientation(), 0.0)
    for index in range(len(test)):
        volume = test[index]["label_a"][0].numpy()
        reference, levels = reference_slices(0, index, 32)
        keep = (levels > LEVEL_RANGE[0]) & (levels < LEVEL_RANGE[1])
        for orientation in scores:
            scores[orientation] += agreement(reorient(volume, orientation)[keep], reference[keep])
    best = max(scores, key=lambda o: scores[o])
    assert best == geometry.orientation
    assert scores[best] / len(test) > 0.7


def test_head_is_narrowest_left_to_right(ds32: PhantomBrain3D) -> None:
    # A head is narrower from ear to ear than from front to back or from base to vertex: the
    # axis the orientation calls left-right must have the smallest extent.
    geometry = ds32.info.volume
    assert geometry is not None and geometry.spacing is not None
    mask = ds32.split("train")[0]["mask_a"][0]
    extent = {
        letter: float(mask.any(dim=tuple(d for d in range(3) if d != axis)).sum())
        * geometry.spacing[axis]
        for axis, letter in enumerate(geometry.orientation)
    }
    lr = next(v for k, v in extent.items() if k in "LR")
    assert all(lr < v - 10.0 for k, v in extent.items() if k not in "LR")
