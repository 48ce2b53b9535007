"""Per-patient evaluation: slices put back into volumes, scored in 3-D, rows whose ``eval_unit``
column says ``"volume"``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medganbench.core.manager import Registries
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench.run.volumes import VolumeCollector
from medganbench_plugins.metrics.paired import psnr
from medganbench_plugins.metrics.synthrad import HU_RANGES, challenge_psnr
from tests.dataset_trees import dicom_trees, paired_patients

WINDOW = (-1024.0, 3000.0)
TINY_CYCLE = {"ngf": "8", "ndf": "8", "n_blocks": "1"}


def _volumes(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two patients of 3 slices each: (6, 1, 16, 16) pred, target, mask."""
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(6, 1, 16, 16, generator=g, dtype=torch.float64) * 2000 - 1000
    pred = target + 100 * torch.randn(6, 1, 16, 16, generator=g, dtype=torch.float64)
    mask = torch.rand(6, 1, 16, 16, generator=g) > 0.3
    return pred, target, mask


def test_collector_scores_each_patient_from_its_slices_in_order(registries: Registries) -> None:
    pred, target, mask = _volumes(0)
    volume = torch.tensor([1, 0, 1, 0, 1, 0])
    index = torch.tensor([2, 0, 0, 2, 1, 1])  # out of order, in two batches
    metric = registries.metrics.get("psnr").build({"convention": "synthrad2023"})
    collector = VolumeCollector(["p-a", "p-b"], {"psnr": metric}, WINDOW)
    for part in (slice(0, 4), slice(4, 6)):
        raw = {VOLUME_KEY: volume[part], SLICE_KEY: index[part]}
        collector.add(raw, pred[part], target[part], mask[part])
    value, report = collector.scores()["psnr"]
    want = {}
    for v, key in enumerate(["p-a", "p-b"]):
        order = [i for s in range(3) for i in range(6) if volume[i] == v and index[i] == s]
        # (C, D, H, W) volume of the patient's slices in slice order, scored in 3-D.
        p, t, m = (x[order].transpose(0, 1)[None] for x in (pred, target, mask))
        want[key] = float(challenge_psnr(p, t, m, hu_range=HU_RANGES["synthrad2023"]))
    assert report.details["patients"] == pytest.approx(want, rel=1e-12)
    assert value == pytest.approx(sum(want.values()) / 2, rel=1e-12)
    assert report.details["n_patients"] == 2 and report.details["grid"] == "image_size"
    assert "eval_unit" not in report.details  # the row's column says it


def test_medganbench_convention_pools_the_patients_voxels(registries: Registries) -> None:
    pred, target, mask = _volumes(1)
    metric = registries.metrics.get("psnr").build({})
    got = metric.score_volume(
        pred.transpose(0, 1), target.transpose(0, 1), window=WINDOW, mask=mask.transpose(0, 1)
    )
    # One MSE over every masked voxel of the patient, not the mean of per-slice PSNRs.
    pooled = psnr(pred.reshape(1, 1, 96, 16), target.reshape(1, 1, 96, 16), window=WINDOW,
                  mask=mask.reshape(1, 1, 96, 16))  # fmt: skip
    assert got == pytest.approx(float(pooled), rel=1e-12)


def _run(registries: Registries, tmp: Path, **spec: object):  # type: ignore[no-untyped-def]
    options = RunOptions(
        leaderboard_dir=tmp / "leaderboards", runs_dir=tmp / "runs", progress=False
    )
    base = {"image_size": 32, "budget": Budget(steps=1)}
    return execute_run(RunSpec(**{**base, **spec}), registries, options)  # type: ignore[arg-type]


@pytest.mark.slow
def test_synthrad2023_run_writes_per_patient_rows(registries: Registries, tmp_path: Path) -> None:
    paired_patients(tmp_path / "data" / "Task1" / "brain")
    result = _run(
        registries,
        tmp_path,
        model="hlsnc",
        model_args=TINY_CYCLE,
        dataset="synthrad2023",
        dataset_args={"region": "brain", "root": str(tmp_path / "data")},
        metrics=("psnr", "ssim", "mae", "ms-ssim"),
        metric_args={"psnr": {"convention": "synthrad2023"}},
    )
    rows = read_leaderboard(result.leaderboard).to_pylist()
    volume = [r for r in rows if r["eval_unit"] == "volume"]
    assert {r["eval_grid"] for r in rows} == {"image_size"}
    a2b = {r["metric"]: r for r in volume if r["direction"] == "a2b"}
    assert sorted(a2b) == ["mae", "ms-ssim", "psnr", "ssim"]
    # The metric's own arguments alone, the same as on its slice row.
    assert json.loads(a2b["psnr"]["metric_args"]) == {"convention": "synthrad2023"}
    details = json.loads(a2b["psnr"]["metric_details"])
    assert details["n_patients"] == 1 and "eval_unit" not in details
    assert next(iter(details["patients"])).startswith("1XA")
    assert a2b["psnr"]["value"] == pytest.approx(next(iter(details["patients"].values())))
    # psnr under the challenge's convention is not computed where the target is MR.
    assert not any(r["metric"] == "psnr" and r["direction"] in ("b2a", "a2b2a") for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".nii.gz", ".mha"])
def test_pix2pix_on_paired_volume_folder(
    registries: Registries, tmp_path: Path, suffix: str
) -> None:
    paired_patients(tmp_path / "data", suffix=suffix)
    files = {
        f"{k}_file": f"{role}{suffix}" for k, role in (("a", "mr"), ("b", "ct"), ("mask", "mask"))
    }
    result = _run(
        registries,
        tmp_path,
        model="pix2pix",
        model_args={"ngf": "8", "ndf": "8"},
        dataset="paired-volume-folder",
        dataset_args={"root": str(tmp_path / "data"), **files},
    )
    assert {(r.eval_unit, r.eval_grid) for r in result.rows} == {
        ("slice", "image_size"),
        ("volume", "image_size"),
    }


@pytest.mark.slow
def test_cyclegan_on_unpaired_dicom_trees(registries: Registries, tmp_path: Path) -> None:
    dicom_trees(tmp_path / "data")
    result = _run(
        registries,
        tmp_path,
        model="cyclegan",
        model_args=TINY_CYCLE,
        dataset="unpaired-volume-folder",
        dataset_args={"root": str(tmp_path / "data")},
        metrics=("psnr", "mae"),
    )
    # Unpaired: only the round trips have a pixel-wise counterpart; each domain's slices carry
    # their patient (schema v4), so the round trips are scored per slice and per patient.
    assert {r.direction for r in result.rows} == {"a2b2a", "b2a2b"}
    assert {r.eval_unit for r in result.rows} == {"slice", "volume"}
    assert all(r.metric_args == "{}" for r in result.rows)
