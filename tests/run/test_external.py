"""Outputs made elsewhere: the exported inputs, and their scoring by the run's own phases
(``medganbench datasets export`` and ``medganbench score`` from Python)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from medganbench.core import hookspecs
from medganbench.core.dataset import DatasetContext
from medganbench.core.hookspecs import hookimpl
from medganbench.core.loading import PluginManager, PluginOrigin
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.core.metric import EvalBatch, Metric, Needs
from medganbench.core.specs import MetricSpec
from medganbench.errors import DataError, UsageError
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.export import export_split
from medganbench.run.external import ExternalSpec, score_outputs
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec, resolve_run

SMALL = {"train_subjects": 3, "val_subjects": 2, "test_subjects": 2, "slices_per_subject": 2}
# phantom-brain: domain A is T1 MR in a.u. (window 0..1), domain B is CT in HU.
MR, CT = (0.0, 1.0), (-1024.0, 3000.0)


class MeanGap(Metric):
    """|mean(outputs) - mean(targets)|: a distribution metric cheap enough for a test."""

    needs = Needs.DISTRIBUTION
    higher_is_better = False
    convention = "absolute difference of the mean values"

    def reset(self) -> None:
        self.pred: list[torch.Tensor] = []
        self.target: list[torch.Tensor] = []

    def update(self, batch: EvalBatch) -> None:
        self.pred.append(batch.pred.double())
        self.target.append(batch.target.double())

    def compute(self) -> float:
        return abs(float(torch.cat(self.pred).mean() - torch.cat(self.target).mean()))


class _MeanGapPlugin:
    @hookimpl
    def medganbench_metrics(self) -> list[MetricSpec]:
        return [MetricSpec("mean-gap", "test metric", "1", MeanGap)]


@pytest.fixture(scope="module")
def registries() -> Registries:
    return build_registries(make_plugin_manager(autoload=False, extra=(_MeanGapPlugin(),)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, registries: Registries) -> Path:
    out = tmp_path_factory.mktemp("export")
    export_split(registries, "phantom-brain", out, dataset_args=SMALL, image_size=32)
    return out


def _translate(exported: Path, folder: Path, fn: Any) -> Path:
    """What a user's own code does: read every input, write an output of the same name."""
    folder.mkdir()
    for path in sorted((exported / "inputs").glob("*.npy")):
        np.save(folder / path.name, fn(np.load(path)).astype(np.float32))
    return folder


def _window_map(x: np.ndarray) -> np.ndarray:
    """The identity baseline's output: the MR window mapped linearly onto the CT window."""
    return CT[0] + np.clip(x, *MR) * (CT[1] - CT[0])


def _spec(outputs: Path, **changes: Any) -> ExternalSpec:
    return ExternalSpec(
        **{
            "name": "my-unet",
            "outputs": outputs,
            "dataset": "phantom-brain",
            "dataset_args": SMALL,
            "image_size": 32,
            **changes,
        }
    )


def _options(tmp_path: Path) -> RunOptions:
    return RunOptions(leaderboard_dir=tmp_path / "lb", runs_dir=tmp_path / "runs", progress=False)


def test_export_writes_one_input_per_test_sample_and_a_manifest(exported: Path) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())
    names = [s["name"] for s in manifest["samples"]]
    # 2 test subjects × 2 slices, named by their position in the split.
    assert names == ["00000", "00001", "00002", "00003"]
    assert sorted(p.stem for p in (exported / "inputs").iterdir()) == names
    assert [(s["volume"], s["slice"]) for s in manifest["samples"]] == [
        ("test-000", 0), ("test-000", 1), ("test-001", 0), ("test-001", 1),
    ]  # fmt: skip
    assert (manifest["direction"], manifest["inputs"]["units"], manifest["outputs"]["units"]) == (
        "a2b",
        "a.u.",
        "HU",
    )
    assert np.load(exported / "inputs" / "00000.npy").shape == (1, 32, 32)


def test_outputs_score_exactly_as_the_run_of_the_same_model_does(
    exported: Path, registries: Registries, tmp_path: Path
) -> None:
    # The identity baseline's outputs, made outside: every row must carry the run's values.
    outputs = _translate(exported, tmp_path / "out", _window_map)
    scored = score_outputs(_spec(outputs), registries, _options(tmp_path / "s"))
    run = execute_run(
        RunSpec(model="identity", dataset_args=SMALL, image_size=32, budget=Budget(steps=1)),
        registries,
        _options(tmp_path / "r"),
    )
    assert len(scored.rows) == len(run.rows) == 6  # psnr, ssim, mae; per slice and per patient
    for ours, theirs in zip(scored.rows, run.rows, strict=True):
        assert (ours.metric, ours.metric_args, ours.metric_convention, ours.eval_split) == (
            theirs.metric,
            theirs.metric_args,
            theirs.metric_convention,
            theirs.eval_split,
        )
        assert ours.value == pytest.approx(theirs.value, rel=1e-5)


def test_rows_are_external_with_no_budget_and_the_outputs_hash(
    exported: Path, registries: Registries, tmp_path: Path
) -> None:
    outputs = _translate(exported, tmp_path / "out", lambda x: 3000.0 - 4000.0 * x)
    result = score_outputs(_spec(outputs), registries, _options(tmp_path))
    rows = read_leaderboard(result.leaderboard).to_pylist()
    assert {r["track"] for r in rows} == {"external"}
    assert {(r["budget_steps"], r["budget_kimg"], r["budget_seconds"]) for r in rows} == {
        (None, None, None)
    }
    args = json.loads(rows[0]["model_args"])
    assert (rows[0]["model"], args["task"], len(args["outputs_sha256"])) == (
        "my-unet",
        "translate",
        64,
    )
    provenance = json.loads(rows[0]["provenance"])
    assert provenance["model"] is None
    assert provenance["dataset"]["name"] == provenance["metric"]["name"] == "medganbench"


def test_scoring_the_same_outputs_again_is_refused_as_already_recorded(
    exported: Path, registries: Registries, tmp_path: Path
) -> None:
    outputs = _translate(exported, tmp_path / "out", _window_map)
    first = score_outputs(_spec(outputs, metrics=("mae",)), registries, _options(tmp_path))
    with pytest.raises(UsageError, match=f"already scored as run {first.run_id}"):
        score_outputs(_spec(outputs, metrics=("mae",)), registries, _options(tmp_path))


def test_a_missing_file_is_refused_naming_it_and_nothing_is_written(
    exported: Path, registries: Registries, tmp_path: Path
) -> None:
    outputs = _translate(exported, tmp_path / "out", _window_map)
    (outputs / "00002.npy").unlink()
    with pytest.raises(DataError, match=r"1 missing: 00002\.npy") as info:
        score_outputs(_spec(outputs), registries, _options(tmp_path))
    assert "00001" not in info.value.message
    assert not (tmp_path / "lb").exists() and not (tmp_path / "runs").exists()


def test_the_name_of_an_installed_model_is_refused(
    exported: Path, registries: Registries, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="installed model"):
        score_outputs(_spec(exported / "inputs", name="pix2pix"), registries, _options(tmp_path))


def test_unconditional_samples_are_scored_against_the_split_targets(
    exported: Path, registries: Registries, tmp_path: Path
) -> None:
    outputs = _translate(exported, tmp_path / "out", lambda x: np.full_like(x, 100.0))
    result = score_outputs(
        _spec(outputs, task="sample", metrics=("mean-gap",)), registries, _options(tmp_path)
    )
    dataset = registries.datasets.get("phantom-brain").build(
        SMALL, DatasetContext(32, tmp_path / "cache")
    )
    targets = torch.cat([b["b"] for b in DataLoader(dataset.split("test"), batch_size=16)])
    (row,) = result.rows
    assert row.metric == "mean-gap" and row.track == "external"
    assert row.value == pytest.approx(abs(100.0 - targets.double().mean().item()), rel=1e-5)


def test_provenance_names_the_package_of_a_third_party_plugin() -> None:
    pm = PluginManager("medganbench")
    pm.add_hookspecs(hookspecs)
    pm.add(_MeanGapPlugin(), PluginOrigin("gap", "gap-metrics", "2.1", "gap = gap_metrics:plugin"))
    registries = build_registries(pm)
    assert registries.provenance("metrics", "mean-gap") == {"name": "gap-metrics", "version": "2.1"}


def test_a_run_records_the_package_of_each_component(registries: Registries) -> None:
    run = resolve_run(RunSpec(model="identity", metrics=("psnr", "mean-gap")), registries)
    builtin: Mapping[str, str] = {
        "name": "medganbench",
        "version": run.provenance["model"]["version"],
    }
    assert run.provenance["model"] == run.provenance["dataset"] == builtin
    assert run.provenance["metrics"] == {
        "psnr": builtin,
        "mean-gap": {"name": "(registered directly)", "version": ""},
    }
