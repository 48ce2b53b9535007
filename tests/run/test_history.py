"""A run's history (history.arrow), validation during training and the best-checkpoint protocol."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from medganbench.core.history import HISTORY_SCHEMA, HistoryRecord
from medganbench.errors import DataError, RunError, UsageError
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.history import HISTORY_NAME, read_history, write_history
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.selection import BEST_NAME
from medganbench.run.spec import RunSpec, resolve_run

SMALL_DATA = {
    "train_subjects": "3",
    "val_subjects": "2",
    "test_subjects": "2",
    "slices_per_subject": "3",
}
# A constant learning rate: the weights at step k do not depend on the budget's length.
PIX2PIX = {"ngf": "8", "ndf": "8", "lr_schedule": "constant"}


def _spec(**changes: object) -> RunSpec:
    spec = RunSpec(
        model="pix2pix",
        model_args=PIX2PIX,
        dataset_args=SMALL_DATA,
        image_size=32,
        metrics=("psnr", "mae"),
        budget=Budget(steps=6),
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def _options(root: Path, **changes: object) -> RunOptions:
    options = RunOptions(
        leaderboard_dir=root / "boards",
        runs_dir=root / "runs",
        progress=False,
        cache_dir=root / "cache",
        log_every=2,
    )
    return dataclasses.replace(options, **changes)  # type: ignore[arg-type]


def _history(run_dir: Path) -> list[HistoryRecord]:
    return read_history(run_dir / HISTORY_NAME)


def _slice_values(board: Path) -> dict[tuple[str, str, str], float]:
    return {
        (r["direction"], r["metric"], r["eval_unit"]): r["value"]
        for r in read_leaderboard(board).to_pylist()
    }


@pytest.mark.slow
def test_a_run_records_its_losses_every_log_every_steps(registries, tmp_path: Path) -> None:
    result = execute_run(_spec(budget=Budget(steps=5)), registries, _options(tmp_path))
    losses = [r for r in _history(result.run_dir) if r.kind == "loss"]
    # Every second step, and the last step.
    assert sorted({r.step for r in losses}) == [2, 4, 5]
    assert {r.name for r in losses} == {"g_adv", "l1", "d"}
    at_four = [r for r in losses if r.step == 4]
    assert all(r.kimg == pytest.approx(4 / 1000) and r.seconds > 0 for r in at_four)


@pytest.mark.slow
def test_eval_every_records_validation_values_at_those_steps_and_the_last(
    registries, tmp_path: Path
) -> None:
    result = execute_run(
        _spec(budget=Budget(steps=5), eval_every=2), registries, _options(tmp_path)
    )
    values = [r for r in _history(result.run_dir) if r.kind == "val"]
    assert sorted({r.step for r in values}) == [2, 4, 5]
    assert {(r.direction, r.name) for r in values} == {("a2b", "psnr"), ("a2b", "mae")}
    assert all(math.isfinite(r.value) for r in values)
    # Validation is evaluation time, never training time.
    assert result.ledger.eval_seconds > 0
    assert result.rows[0].protocol == "final" and result.rows[0].selected_step == 5


@pytest.mark.slow
def test_validating_during_training_changes_no_row(registries, tmp_path: Path) -> None:
    plain = execute_run(_spec(), registries, _options(tmp_path / "plain"))
    watched = execute_run(_spec(eval_every=2), registries, _options(tmp_path / "watched"))
    assert watched.run_id == plain.run_id  # eval_every alone is not in the run id
    assert _slice_values(watched.leaderboard) == _slice_values(plain.leaderboard)


@pytest.mark.slow
def test_best_selection_scores_the_best_validation_step_on_the_test_split(
    registries, tmp_path: Path
) -> None:
    best = execute_run(
        _spec(eval_every=2, select="best:psnr"), registries, _options(tmp_path / "best")
    )
    psnr = [r for r in _history(best.run_dir) if r.kind == "val" and r.name == "psnr"]
    chosen = max(psnr, key=lambda r: r.value)  # max keeps the first of equal values
    row = best.rows[0]
    assert row.protocol == "best:psnr@val" and row.selected_step == chosen.step
    assert row.steps_done == 6  # the whole budget was trained
    # The test values are those of the chosen checkpoint: a final run that stops there.
    short = execute_run(
        _spec(budget=Budget(steps=chosen.step)), registries, _options(tmp_path / "short")
    )
    assert _slice_values(best.leaderboard) == pytest.approx(
        _slice_values(short.leaderboard), rel=1e-6
    )
    assert not (best.run_dir / BEST_NAME).exists()  # pruned with the checkpoint


def test_select_and_eval_every_enter_the_run_id_only_when_a_checkpoint_is_chosen(
    registries,
) -> None:
    final = resolve_run(_spec(), registries).run_id
    assert resolve_run(_spec(eval_every=2), registries).run_id == final
    best2 = resolve_run(_spec(eval_every=2, select="best:psnr"), registries).run_id
    best3 = resolve_run(_spec(eval_every=3, select="best:psnr"), registries).run_id
    assert len({final, best2, best3}) == 3


def test_select_best_without_eval_every_is_refused(registries) -> None:
    with pytest.raises(UsageError, match="no --eval-every was given"):
        resolve_run(_spec(select="best:psnr"), registries)


def test_select_best_of_a_metric_the_run_does_not_compute_is_refused(registries) -> None:
    with pytest.raises(UsageError, match="'fid' is not among the run's metrics"):
        resolve_run(_spec(select="best:fid", eval_every=2), registries)


def test_a_malformed_select_is_refused(registries) -> None:
    with pytest.raises(UsageError, match="neither 'final' nor 'best:METRIC'"):
        resolve_run(_spec(select="worst:psnr", eval_every=2), registries)


@pytest.mark.slow
def test_select_best_of_a_metric_not_computed_in_the_primary_direction_is_refused(
    registries, tmp_path: Path
) -> None:
    # Unpaired data: psnr is computed on cyclegan's round trips only, not in a2b.
    spec = _spec(
        model="cyclegan",
        model_args={"ngf": "8", "ndf": "8", "n_blocks": "1"},
        dataset_args={**SMALL_DATA, "paired": "false"},
        metrics=("fid", "psnr"),
        select="best:psnr",
        eval_every=2,
    )
    with pytest.raises(UsageError, match="not computed on the validation split in the model's"):
        execute_run(spec, registries, _options(tmp_path))
    assert not (tmp_path / "boards").exists()


def test_a_diverged_run_keeps_its_history_up_to_the_diverged_step(
    registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medganbench_plugins.models.identity import IdentityModel

    losses = iter([{"g": 1.0}, {"g": 0.5}, {"g": float("nan")}])
    monkeypatch.setattr(IdentityModel, "train_step", lambda self, batch: next(losses))
    spec = _spec(model="identity", model_args={}, budget=Budget(steps=5))
    with pytest.raises(RunError, match="became nan at step 3"):
        execute_run(spec, registries, _options(tmp_path))
    run_dir = tmp_path / "runs" / resolve_run(spec, registries).run_id
    history = _history(run_dir)
    assert [(r.step, r.name) for r in history] == [(2, "g"), (3, "g")]
    assert math.isnan(history[-1].value)


@pytest.mark.slow
def test_a_killed_and_resumed_run_writes_the_same_history_bytes(
    registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medganbench_plugins.models.pix2pix import Pix2Pix

    spec = _spec(eval_every=2, select="best:psnr")

    def run(where: Path, interrupt_at: int | None = None, resume: bool = False) -> None:
        # The metered seconds are a measurement; one clock makes them equal between the runs.
        ticks = itertools.count()
        monkeypatch.setattr("time.perf_counter", lambda: float(next(ticks)))
        options = _options(where, checkpoint_every=3, resume=resume, deterministic=True)
        if interrupt_at is None:
            execute_run(spec, registries, options)
            return
        real, calls = Pix2Pix.train_step, itertools.count(1)

        def step(self, batch):  # type: ignore[no-untyped-def]
            if next(calls) > interrupt_at:
                raise KeyboardInterrupt
            return real(self, batch)

        with monkeypatch.context() as patch:
            patch.setattr(Pix2Pix, "train_step", step)
            with pytest.raises(KeyboardInterrupt):
                execute_run(spec, registries, options)

    run(tmp_path / "whole")
    run(tmp_path / "killed", interrupt_at=4)  # a checkpoint at step 3; history reaches step 4
    run(tmp_path / "killed", resume=True)
    run_id = resolve_run(spec, registries).run_id
    whole = (tmp_path / "whole" / "runs" / run_id / HISTORY_NAME).read_bytes()
    resumed = (tmp_path / "killed" / "runs" / run_id / HISTORY_NAME).read_bytes()
    assert resumed == whole


def test_history_files_round_trip_through_plain_pyarrow(tmp_path: Path) -> None:
    records = [
        HistoryRecord(10, 0.08, 1.5, "loss", "", "g", 0.25),
        HistoryRecord(10, 0.08, 1.5, "val", "a2b", "psnr", 21.0),
        HistoryRecord(11, 0.088, 1.6, "loss", "", "g", float("nan")),
    ]
    path = tmp_path / HISTORY_NAME
    write_history(path, records)
    with open(path, "rb") as source:
        table = ipc.open_file(source).read_all()
    assert table.schema.equals(HISTORY_SCHEMA, check_metadata=True)
    assert table.column("name").to_pylist() == ["g", "psnr", "g"]
    back = read_history(path)
    assert back[:2] == records[:2] and math.isnan(back[2].value)


def test_a_file_that_is_not_a_history_is_refused(tmp_path: Path) -> None:
    path = tmp_path / HISTORY_NAME
    table = pa.table({"step": [1], "value": [1.0]})
    with ipc.new_file(str(path), table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(DataError, match="not a medganbench history file"):
        read_history(path)


def test_a_corrupt_history_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / HISTORY_NAME
    path.write_bytes(b"ARROW1\x00\x00garbage")
    with pytest.raises(DataError, match="Cannot read the history"):
        read_history(path)


def test_spec_json_keeps_eval_every_for_a_resume_when_it_is_not_in_the_id(registries) -> None:
    recorded = resolve_run(_spec(eval_every=4), registries).recorded()
    assert recorded["eval_every"] == 4 and "select" not in recorded
    json.dumps(recorded)  # plain JSON
