"""Segmentation utility (seg-dice, seg-hd95, tstr-dice): rows, floors, and the refusals."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import pytest
import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench.run.training_data import training_labelled
from tests.cli_runner import cli_in_process
from tests.dataset_trees import contract_args

SMALL_DATA = {
    "train_subjects": "3",
    "val_subjects": "2",
    "test_subjects": "2",
    "slices_per_subject": "4",
}
# A short segmenter budget: these tests check the plumbing and the floors, not the recipe.
STEPS = "60"
SEG_ARGS = {"segmenter_steps": STEPS}


def _phantom(registries, size: int = 32):
    from medganbench.defaults import medganbench_home

    spec = registries.datasets.get("phantom-brain")
    cache = medganbench_home() / "datasets" / "phantom-brain"  # the test's own home (conftest)
    return spec.build(spec.resolve(SMALL_DATA), DatasetContext(size, cache))


def _metric(registries, name: str, dataset, tmp_path: Path):
    info = dataset.info
    ctx = MetricContext(
        cache_dir=tmp_path / "features",
        dataset="phantom-brain",
        dataset_version="1",
        dataset_fingerprint=dataset.fingerprint(),
        image_size=info.image_size,
        label_classes=info.labels,
        training_labelled=functools.partial(training_labelled, dataset),
    )
    spec = registries.metrics.get(name)
    return spec.build(spec.resolve(SEG_ARGS), ctx)


def _test_batch(dataset, pred: torch.Tensor | None = None) -> EvalBatch:
    items = [dataset.split("test")[i] for i in range(len(dataset.split("test")))]
    target = torch.stack([it["b"] for it in items])
    labels = torch.stack([it["label_b"] for it in items])
    return EvalBatch(
        pred=target.clone() if pred is None else pred,
        target=target,
        mask=torch.stack([it["mask_b"] for it in items]),
        window=dataset.info.b.window,
        paired=True,
        domain=dataset.info.b.name,
        labels=torch.stack([it["label_a"] for it in items]),
        target_labels=labels,
    )


@pytest.mark.slow
def test_outputs_equal_to_the_real_target_score_the_segmenters_own_dice(
    registries, tmp_path: Path
) -> None:
    dataset = _phantom(registries)
    metric = _metric(registries, "seg-dice", dataset, tmp_path)
    metric.update(_test_batch(dataset))
    value = metric.compute()
    assert value == pytest.approx(metric.report().details["segmenter_on_real"], abs=1e-12)
    assert value > 0.3  # the segmenter learnt something in its short budget


@pytest.mark.slow
def test_noise_outputs_score_about_zero_dice(registries, tmp_path: Path) -> None:
    dataset = _phantom(registries)
    low, high = dataset.info.b.window
    batch = _test_batch(dataset)
    noise = low + (high - low) * torch.rand(
        batch.target.shape, generator=torch.Generator().manual_seed(0)
    )
    metric = _metric(registries, "seg-dice", dataset, tmp_path)
    metric.update(dataclasses.replace(batch, pred=noise))
    assert metric.compute() < 0.15


def _run(registries, tmp_path: Path, model: str, metrics: tuple[str, ...], **args: str):
    spec = RunSpec(
        model=model,
        model_args=args,
        dataset_args=SMALL_DATA,
        image_size=32,
        metrics=metrics,
        metric_args={m: SEG_ARGS for m in metrics if m.startswith(("seg-", "tstr-"))},
        budget=Budget(steps=2),
    )
    options = RunOptions(
        leaderboard_dir=tmp_path / "boards",
        runs_dir=tmp_path / "runs",
        progress=False,
        cache_dir=tmp_path / "cache",
    )
    return execute_run(spec, registries, options)


@pytest.mark.slow
def test_seg_dice_and_hd95_rows_come_per_slice_and_per_patient_with_class_values(
    registries, tmp_path: Path
) -> None:
    result = _run(
        registries, tmp_path, "pix2pix", ("psnr", "seg-dice", "seg-hd95"), ngf="8", ndf="8"
    )
    rows = {
        (r["metric"], r["eval_unit"]): r for r in read_leaderboard(result.leaderboard).to_pylist()
    }
    for metric in ("seg-dice", "seg-hd95"):
        assert {(metric, "slice"), (metric, "volume")} <= set(rows)
    details = json.loads(rows[("seg-dice", "slice")]["metric_details"])
    assert set(details["classes"]) <= set(_phantom(registries).info.labels[1:])
    assert details["classes"] and 0.0 <= rows[("seg-dice", "slice")]["value"] <= 1.0
    assert rows[("seg-hd95", "slice")]["value"] >= 0.0
    assert rows[("seg-hd95", "slice")]["higher_is_better"] is False
    patients = json.loads(rows[("seg-dice", "volume")]["metric_details"])["patients"]
    assert len(patients) == 2  # the two test subjects


@pytest.mark.slow
def test_the_identity_model_segments_worse_than_real_ct(registries, tmp_path: Path) -> None:
    result = _run(registries, tmp_path, "identity", ("seg-dice",))
    (row,) = [
        r for r in read_leaderboard(result.leaderboard).to_pylist() if r["eval_unit"] == "slice"
    ]
    real = json.loads(row["metric_details"])["segmenter_on_real"]
    assert row["value"] < real - 0.2  # MR intensities read as HU do not segment as CT


@pytest.mark.slow
def test_tstr_records_its_three_arms_and_their_ratio(registries, tmp_path: Path) -> None:
    result = _run(registries, tmp_path, "pix2pix", ("tstr-dice",), ngf="8", ndf="8")
    (row,) = read_leaderboard(result.leaderboard).to_pylist()
    details = json.loads(row["metric_details"])
    assert {"real", "synthetic", "both", "ratio"} <= set(details)
    assert row["value"] == details["synthetic"]
    assert details["ratio"] == pytest.approx(details["synthetic"] / details["real"])
    assert details["n_train_synthetic"] == details["n_train_real"] == 12  # 3 subjects × 4


def test_a_sampler_asked_for_tstr_exits_2_with_one_message(tmp_path: Path) -> None:
    done = cli_in_process(
        "run", "--model", "dcgan", "--dataset-arg", "domain=b", "--metrics", "tstr-dice",
        "--image-size", "32", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "samples images without label maps" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs" / "leaderboards").exists()


def test_a_dataset_without_label_maps_is_refused_naming_the_metric(tmp_path: Path) -> None:
    args = contract_args("paired-folder", tmp_path / "trees", tmp_path / "cache")
    done = cli_in_process(
        "run", "--model", "pix2pix", "--dataset", "paired-folder",
        "--dataset-arg", f"root={args['root']}", "--metrics", "seg-dice", "--image-size", "32",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "seg-dice: dataset 'paired-folder' has no label maps" in done.stderr
