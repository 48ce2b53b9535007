"""A paired volume dataset served as volumes (``dims=3``): crops of image_size³ to train,
whole volumes to evaluate, stacked from the very slices ``dims=2`` serves."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.geometry import window_starts
from medganbench.core.manager import Registries
from medganbench.core.params import resolve_args
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY
from medganbench.data.volume_items import slice_axis_orientation
from medganbench.errors import UsageError
from tests.dataset_trees import paired_patients

SIZE = 8


def _build(registries: Registries, root: Path, cache: Path, **args: object) -> object:
    spec = registries.datasets.get("synthrad2023")
    resolved = resolve_args(spec.params, {"root": str(root), **args}, "synthrad2023")
    return spec.build(resolved, DatasetContext(SIZE, cache))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthrad")
    paired_patients(root / "Task1" / "brain", n=4)  # 20 × 24 × 8 voxels each: 8 axial slices
    return root


@pytest.mark.parametrize(
    ("length", "depth", "starts"),
    [(8, 8, [0]), (5, 8, [0]), (16, 8, [0, 4, 8]), (17, 8, [0, 4, 8, 9]), (9, 2, list(range(8)))],
)
def test_crops_cover_every_slice_half_a_crop_apart(
    length: int, depth: int, starts: list[int]
) -> None:
    assert window_starts(length, depth) == starts


def test_the_slice_axis_comes_first_in_the_orientation() -> None:
    assert slice_axis_orientation(2) == "SRA"
    assert slice_axis_orientation(0) == "RAS"


def test_dims_3_declares_volumes_and_keeps_the_slices_fingerprint(
    registries: Registries, tree: Path, tmp_path: Path
) -> None:
    slices = _build(registries, tree, tmp_path, dims=2)
    volumes = _build(registries, tree, tmp_path, dims=3)
    spec = registries.datasets.get("synthrad2023")
    assert spec.dimensions({"dims": 3}) == 3 and spec.dimensions({}) == 2
    assert volumes.info.spatial_dims == 3 and slices.info.spatial_dims == 2  # type: ignore[attr-defined]
    geometry = volumes.info.volume  # type: ignore[attr-defined]
    assert geometry.size == (SIZE,) * 3 and geometry.whole_volumes
    assert geometry.plane_axis("axial") == 0
    assert volumes.fingerprint() != slices.fingerprint()  # type: ignore[attr-defined]
    # dims left at 2 is the dataset as it was: same fingerprint as without the argument.
    assert _build(registries, tree, tmp_path).fingerprint() == slices.fingerprint()  # type: ignore[attr-defined]


def test_evaluation_items_are_whole_volumes_stacked_from_the_slices(
    registries: Registries, tree: Path, tmp_path: Path
) -> None:
    slices = _build(registries, tree, tmp_path, dims=2)
    volumes = _build(registries, tree, tmp_path, dims=3)
    flat, whole = slices.split("test"), volumes.split("test")  # type: ignore[attr-defined]
    item = whole[0]
    assert volumes.volume_ids("test") == slices.volume_ids("test")  # type: ignore[attr-defined]
    assert item["a"].shape == (1, 8, SIZE, SIZE) and item["mask_b"].shape == (1, 8, SIZE, SIZE)
    patient = int(item[VOLUME_KEY])
    first = int(item[SLICE_KEY])
    for i in range(len(flat)):
        s = flat[i]
        if int(s[VOLUME_KEY]) == patient:
            k = int(s[SLICE_KEY]) - first
            assert torch.equal(item["a"][:, k], s["a"]) and torch.equal(item["b"][:, k], s["b"])
            assert torch.equal(item["mask_a"][:, k], s["mask_a"])


def test_training_items_are_fixed_crops_of_image_size_cubed(
    registries: Registries, tree: Path, tmp_path: Path
) -> None:
    volumes = _build(registries, tree, tmp_path, dims=3, val_fraction=0.25, test_fraction=0.25)
    train = volumes.split("train")  # type: ignore[attr-defined]
    assert len(train) == 2  # two patients of 8 slices: one 8-slice crop each
    first, again = train[1], train[1]
    assert first["b"].shape == (1, SIZE, SIZE, SIZE)
    assert torch.equal(first["b"], again["b"])
    first["b"].zero_()  # a consumer editing an item cannot change the split
    assert not torch.equal(train[1]["b"], first["b"])


def test_a_dataset_that_does_not_declare_dims_refuses_it(
    registries: Registries, tmp_path: Path
) -> None:
    spec = registries.datasets.get("paired-volume-folder")
    assert any(p.name == "dims" for p in spec.params) is False
    with pytest.raises(UsageError, match="dims"):
        spec.resolve({"dims": 3})
