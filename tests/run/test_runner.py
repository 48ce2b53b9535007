"""The runner end to end: budgets, leaderboard rows, refusals, failures that leave no row."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow.ipc as ipc
import pytest
import torch

from medganbench.errors import RunError, UsageError
from medganbench.leaderboard.schema import SCHEMA
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec

SMALL = {
    "train_subjects": "3",
    "val_subjects": "2",
    "test_subjects": "2",
    "slices_per_subject": "3",
}


def _spec(model: str = "identity", **changes) -> RunSpec:
    spec = RunSpec(model=model, dataset_args=SMALL, image_size=32, budget=Budget(steps=4))
    return dataclasses.replace(spec, **changes)


def _options(dirs: dict[str, Path], **changes) -> RunOptions:
    return RunOptions(progress=False, **dirs, **changes)


def test_run_appends_one_row_per_metric(registries, dirs) -> None:
    result = execute_run(_spec(), registries, _options(dirs))
    table = read_leaderboard(result.leaderboard)
    # Per slice, then per patient (the phantom's subjects are volumes: eval_unit "volume").
    assert table.num_rows == 6
    assert sorted(table.column("metric").to_pylist()[:3]) == ["mae", "psnr", "ssim"]
    assert table.column("metric").to_pylist()[3:] == table.column("metric").to_pylist()[:3]
    assert table.column("eval_unit").to_pylist() == ["slice"] * 3 + ["volume"] * 3
    assert set(table.column("eval_grid").to_pylist()) == {"image_size"}
    assert set(table.column("metric_args").to_pylist()) == {"{}"}
    assert set(table.column("run_id").to_pylist()) == {result.run_id}
    assert table.schema.equals(SCHEMA, check_metadata=False)


def test_row_records_the_run_identity(registries, dirs) -> None:
    result = execute_run(
        _spec(seed=7, budget=Budget(steps=3, seconds=100.0)), registries, _options(dirs)
    )
    row = read_leaderboard(result.leaderboard).to_pylist()[0]
    assert row["seed"] == 7 and row["image_size"] == 32
    assert (
        row["budget_steps"] == 3 and row["budget_seconds"] == 100.0 and row["budget_kimg"] is None
    )
    assert row["steps_done"] == 3 and row["kimg_done"] == pytest.approx(3 * 8 / 1000)
    assert '"batch_size":8' in row["model_args"] and '"slices_per_subject":3' in row["dataset_args"]
    assert row["model_version"] == "1" and row["dataset_version"] and row["metric_version"] == "1"
    assert row["device"].startswith("cpu") and row["status"] == "ok" and row["peak_memory_mb"] > 0


def test_budget_steps_stop_training(registries, dirs) -> None:
    result = execute_run(_spec(budget=Budget(steps=5)), registries, _options(dirs))
    assert result.ledger.steps == 5 and result.ledger.images == 5 * 8


def test_budget_kimg_stops_training(registries, dirs) -> None:
    # 0.02 kimg = 20 images at 8 per step: the third step crosses the limit.
    result = execute_run(_spec(budget=Budget(kimg=0.02)), registries, _options(dirs))
    assert result.ledger.steps == 3


def test_run_writes_checkpoint_samples_and_spec(registries, dirs) -> None:
    result = execute_run(_spec(), registries, _options(dirs, keep_checkpoint=True))
    for name in ("checkpoint.pt", "samples.png", "spec.json", "result.json"):
        assert (result.run_dir / name).stat().st_size > 0


def test_a_recorded_run_deletes_its_checkpoint_unless_told_to_keep_it(registries, dirs) -> None:
    result = execute_run(_spec(), registries, _options(dirs))
    assert (result.run_dir / "result.json").is_file()
    assert not (result.run_dir / "checkpoint.pt").exists()


def test_a_run_not_recorded_keeps_its_checkpoint_for_resume(registries, dirs) -> None:
    result = execute_run(_spec(), registries, _options(dirs, record=False))
    assert (result.run_dir / "checkpoint.pt").stat().st_size > 0


def test_intensity_lookup_beats_identity(registries, dirs) -> None:
    scores = {}
    for model in ("identity", "intensity-lookup"):
        scores[model] = execute_run(
            _spec(model, budget=Budget(steps=6)), registries, _options(dirs)
        ).metrics
    assert scores["intensity-lookup"]["psnr"] > scores["identity"]["psnr"]
    assert scores["intensity-lookup"]["ssim"] > scores["identity"]["ssim"]
    assert scores["intensity-lookup"]["mae"] < scores["identity"]["mae"]


def test_same_spec_twice_is_refused(registries, dirs) -> None:
    execute_run(_spec(), registries, _options(dirs))
    with pytest.raises(UsageError, match="already on"):
        execute_run(_spec(), registries, _options(dirs))


def test_paired_metrics_refused_on_unpaired_data(registries, dirs) -> None:
    spec = _spec(dataset_args={**SMALL, "paired": "false"})
    with pytest.raises(UsageError, match="psnr, ssim, mae cannot be computed"):
        execute_run(spec, registries, _options(dirs))
    assert not (dirs["runs_dir"]).exists()  # refused before anything was written


def test_paired_training_model_refused_on_unpaired_data(registries, dirs) -> None:
    spec = _spec("intensity-lookup", dataset_args={**SMALL, "paired": "false"}, metrics=("psnr",))
    with pytest.raises(UsageError, match="needs paired training data"):
        execute_run(spec, registries, _options(dirs))


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_failure_mid_run_leaves_the_leaderboard_intact(
    registries, dirs, monkeypatch, exc_type
) -> None:
    first = execute_run(_spec(seed=1), registries, _options(dirs))
    before = first.leaderboard.read_bytes()

    from medganbench_plugins.models.identity import IdentityModel

    calls = {"n": 0}

    def exploding_step(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise exc_type("boom")
        return {}

    monkeypatch.setattr(IdentityModel, "train_step", exploding_step)
    with pytest.raises(exc_type):
        execute_run(_spec(seed=2), registries, _options(dirs, checkpoint_every=1))
    assert first.leaderboard.read_bytes() == before
    ipc.open_file(first.leaderboard).read_all()  # still a valid Arrow file
    assert not list(first.leaderboard.parent.glob("*.tmp"))


def test_nan_loss_is_a_clear_run_error(registries, dirs, monkeypatch) -> None:
    from medganbench_plugins.models.identity import IdentityModel

    monkeypatch.setattr(IdentityModel, "train_step", lambda self, batch: {"g_loss": float("nan")})
    with pytest.raises(RunError, match="'g_loss'.*became nan at step 1"):
        execute_run(_spec(), registries, _options(dirs))
    assert not (dirs["leaderboard_dir"] / "phantom-brain.arrow").exists()


def test_unknown_metric_is_refused_before_training(registries, dirs) -> None:
    with pytest.raises(UsageError, match="Did you mean 'psnr'"):
        execute_run(_spec(metrics=("psrn",)), registries, _options(dirs))


def test_result_json_records_the_ledger(registries, dirs) -> None:
    import json

    result = execute_run(_spec(budget=Budget(steps=2)), registries, _options(dirs))
    ledger = json.loads((result.run_dir / "result.json").read_text())["ledger"]
    assert ledger["steps"] == 2 and ledger["images"] == 16
    assert ledger["eval_seconds"] > 0 and ledger["device"].startswith("cpu")


def _phantom(registries):
    from medganbench.core.dataset import DatasetContext
    from medganbench.core.params import resolve_args
    from medganbench.defaults import medganbench_home

    spec = registries.datasets.get("phantom-brain")
    args = resolve_args(spec.params, SMALL, "phantom-brain")
    return spec.build(args, DatasetContext(32, medganbench_home() / "datasets" / "phantom-brain"))


def test_unpaired_training_draws_a_and_b_independently(registries) -> None:
    from medganbench.run.batches import TrainBatches

    phantom = _phantom(registries)
    batches = TrainBatches(
        phantom.split("train"), 4, 0, unpaired=True, paired_data=phantom.info.paired
    )
    same = []
    for _ in range(5):
        raw, paired = next(batches)
        assert paired is False
        # On the paired phantom, A and B of one item share one body mask; independent draws don't.
        same += [bool((raw["mask_a"][i] == raw["mask_b"][i]).all()) for i in range(4)]
    assert sum(same) <= 4, f"{sum(same)} of {len(same)} items still look paired"


def test_paired_training_keeps_pairs(registries) -> None:
    from medganbench.run.batches import TrainBatches

    phantom = _phantom(registries)
    raw, paired = next(
        TrainBatches(phantom.split("train"), 4, 0, unpaired=False, paired_data=phantom.info.paired)
    )
    assert paired is True and torch.equal(raw["mask_a"], raw["mask_b"])


def test_runner_reports_budget_progress_before_each_step(registries, dirs, monkeypatch) -> None:
    from medganbench_plugins.models.identity import IdentityModel

    seen: list[float] = []
    monkeypatch.setattr(
        IdentityModel, "set_progress", lambda self, f: seen.append(f), raising=False
    )
    execute_run(_spec(budget=Budget(steps=4)), registries, _options(dirs))
    assert seen == [0.0, 0.25, 0.5, 0.75]


def test_losses_read_in_one_go_come_back_per_step() -> None:
    import torch

    from medganbench.run.train import PendingStep, read_losses

    pending = [
        PendingStep(1, 0.008, 0.5, {"g": torch.tensor(1.0), "d": 0.5}),
        PendingStep(2, 0.016, 1.0, {"g": torch.tensor(2.0), "d": 0.25}),
    ]
    read = read_losses(pending)
    assert [(r.step, dict(r.values)) for r in read] == [
        (1, {"g": 1.0, "d": 0.5}),
        (2, {"g": 2.0, "d": 0.25}),
    ]
    assert pending == []


def test_the_first_non_finite_loss_is_named_with_its_step() -> None:
    from medganbench.run.train import check_finite
    from medganbench.run.watch import StepLossValues

    steps = [
        StepLossValues(4, 0.0, 0.0, {"g": 1.0}),
        StepLossValues(5, 0.0, 0.0, {"g": float("inf")}),
        StepLossValues(6, 0.0, 0.0, {"g": float("nan")}),
    ]
    with pytest.raises(RunError, match="'g' of model 'm' became inf at step 5"):
        check_finite(steps, "m")


def test_losses_are_read_every_step_except_on_a_gpu_without_a_time_limit() -> None:
    import torch

    from medganbench.run.budget import Budget
    from medganbench.run.train import CUDA_LOSS_READ_EVERY, loss_read_every

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert loss_read_every(cpu, Budget(steps=100)) == 1
    assert loss_read_every(cuda, Budget(steps=100)) == CUDA_LOSS_READ_EVERY > 1
    assert loss_read_every(cuda, Budget(steps=100, seconds=60.0)) == 1
