"""Native-grid evaluation (``--eval-grid native``): translated slices resized back to each
patient's native in-plane size and scored against the native target and mask."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from medganbench.core.dataset import DatasetContext
from medganbench.core.manager import Registries
from medganbench.data import read_volume, square_slice
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench.run.volumes import volume_collector
from tests.dataset_trees import paired_patients

SIZE = 32
WINDOW = (-1024.0, 3000.0)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthrad2023 tree of 3 generated patients, (20, 24, 8) voxels each."""
    root = tmp_path_factory.mktemp("native")
    paired_patients(root / "Task1" / "brain")
    return root


def test_exact_target_at_image_size_scores_the_resize_back_error_on_the_native_grid(
    registries: Registries, tree: Path, tmp_path: Path
) -> None:
    args = {"root": str(tree), "region": "brain"}
    dataset = registries.datasets.get("synthrad2023").build(
        args, DatasetContext(SIZE, tmp_path / "cache")
    )
    mae = registries.metrics.get("mae").build({"convention": "synthrad2023"})
    collector = volume_collector(
        dataset, "test", {"mae": mae}, WINDOW, paired=True, key="b", native=True
    )
    assert collector is not None and collector.native is not None
    # The native grid is the run's choice: without it, the same dataset is scored at size only.
    plain = volume_collector(dataset, "test", {"mae": mae}, WINDOW, paired=True, key="b")
    assert plain is not None and plain.native is None and plain.native_scores() == {}
    split = dataset.split("test")
    items = [split[i] for i in range(len(split))]
    raw = {k: torch.stack([it[k] for it in items]) for k in ("volume", "slice")}
    target = torch.stack([it["b"] for it in items])
    # A "model" that returns the exact target at --image-size.
    collector.add(raw, target.clone(), target, torch.stack([it["mask_b"] for it in items]))
    at_size, _ = collector.scores()["mae"]
    native, report = collector.native_scores()["mae"]
    assert at_size == 0.0
    assert report.details["grid"] == "native" and report.details["n_patients"] == 1
    # Independently: PIL's bilinear resize of each delivered 32 px slice back to the 24 px
    # square, the centred padding (rows 2..21 of the 20-row plane) cropped, against the file.
    (patient,) = dataset.volume_ids("test")
    folder = tree / "Task1" / "brain" / patient
    ct = np.asarray(nib.load(folder / "ct.nii.gz").dataobj, dtype=np.float64)
    body = np.asarray(nib.load(folder / "mask.nii.gz").dataobj) > 0
    errors = []
    for item in items:
        s = int(item["slice"])
        back = Image.fromarray(item["b"][0].numpy().astype(np.float32), mode="F").resize(
            (24, 24), Image.Resampling.BILINEAR
        )
        plane = np.asarray(back, dtype=np.float64)[2:22, :]
        errors.append(np.abs(plane - ct[:, :, s])[body[:, :, s]])
    want = float(np.concatenate(errors).mean())
    assert want > 1.0  # the round trip through 32 px is not lossless
    assert native == pytest.approx(want, rel=1e-3)
    assert report.details["patients"][patient] == native


def test_native_slices_are_the_files_planes_with_their_mask(
    registries: Registries, tree: Path, tmp_path: Path
) -> None:
    args = {"root": str(tree), "region": "brain"}
    dataset = registries.datasets.get("synthrad2023").build(
        args, DatasetContext(SIZE, tmp_path / "cache")
    )
    (patient,) = dataset.volume_ids("val")
    got = dataset.native_slices("val", 0, "b", [5, 1])
    folder = tree / "Task1" / "brain" / patient
    ct = read_volume(folder / "ct.nii.gz").data
    mask = read_volume(folder / "mask.nii.gz").data > 0
    assert got.target.shape == (1, 2, 20, 24) and got.mask.shape == (1, 2, 20, 24)
    assert torch.equal(got.target[0, 0], torch.from_numpy(ct[:, :, 5]))
    assert torch.equal(got.mask[0, 1], torch.from_numpy(mask[:, :, 1]))


def test_to_native_at_the_native_size_only_crops_the_padding() -> None:
    from medganbench.run.volumes import to_native

    plane = np.arange(20 * 24, dtype=np.float32).reshape(20, 24)
    square = square_slice(plane, 24)  # (1, 24, 24): padded, not resized
    back = to_native(square[:, None], (20, 24))
    assert torch.equal(back[0, 0], torch.from_numpy(plane))


def test_native_grid_run_writes_rows_that_say_so(
    registries: Registries, tree: Path, tmp_path: Path
) -> None:
    options = RunOptions(
        leaderboard_dir=tmp_path / "leaderboards", runs_dir=tmp_path / "runs", progress=False
    )
    spec = RunSpec(
        model="identity",
        dataset="synthrad2023",
        dataset_args={"root": str(tree), "region": "brain"},
        image_size=SIZE,
        metrics=("psnr", "mae"),
        metric_args={"psnr": {"convention": "synthrad2023"}},
        budget=Budget(steps=1),
        eval_grid="native",
    )
    result = execute_run(spec, registries, options)
    rows = read_leaderboard(result.leaderboard).to_pylist()
    native = [r for r in rows if r["eval_grid"] == "native"]
    assert {(r["direction"], r["metric"]) for r in native} >= {("a2b", "psnr"), ("a2b", "mae")}
    assert {r["eval_unit"] for r in native} == {"volume"}
    psnr = next(r for r in native if r["metric"] == "psnr")
    # The metric's own arguments alone: the grid and the unit are columns.
    assert json.loads(psnr["metric_args"]) == {"convention": "synthrad2023"}
    details = json.loads(psnr["metric_details"])
    assert details["grid"] == "native" and details["n_patients"] == 1
    assert "eval_grid=native" in psnr["metric_convention"]
    assert np.isfinite(psnr["value"]) and psnr["value"] == next(iter(details["patients"].values()))
    # The image-size volume row is still there, beside it, and differs.
    sized = next(
        r
        for r in rows
        if r["metric"] == "psnr"
        and r["direction"] == "a2b"
        and (r["eval_unit"], r["eval_grid"]) == ("volume", "image_size")
    )
    assert json.loads(sized["metric_details"])["grid"] == "image_size"
    # The grid is the run's option: in its id and spec, not among the dataset's arguments.
    assert "eval_grid" not in json.loads(sized["dataset_args"])
    spec_json = json.loads((result.run_dir / "spec.json").read_text())
    assert spec_json["eval_grid"] == "native" and spec_json["run_id"] == result.run_id
