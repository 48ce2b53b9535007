"""Phase 4 of a run: turn what was measured into leaderboard rows and the run's result file.

Rows are appended only after everything else has succeeded, in one atomic write, so an
interrupted or failed run leaves no row and no half-written file.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medganbench import __version__, defaults
from medganbench.core.params import canonical_json
from medganbench.errors import LeaderboardError
from medganbench.fileio import describe_os_error, write_json
from medganbench.leaderboard.schema import LeaderboardRow
from medganbench.leaderboard.store import AlreadyRecordedError, append_rows
from medganbench.run.budget import Ledger
from medganbench.run.checkpoint import prune_checkpoint
from medganbench.run.device import device_name
from medganbench.run.directions import is_cycle
from medganbench.run.evaluate import Evaluation
from medganbench.run.generator_files import GENERATOR_CONFIG, save_run_generator
from medganbench.run.options import RunOptions
from medganbench.run.prepare import PreparedRun
from medganbench.run.selection import prune_best
from medganbench.run.trained import TrainedRun

#: The run's outcome file in its run directory.
RESULT_NAME = "result.json"


@dataclass(frozen=True)
class RunResult:
    """What a finished run produced.

    Attributes:
        run_id: the run's id.
        run_dir: ``runs/<run id>``.
        leaderboard: the leaderboard file its rows belong to.
        metrics: the primary direction's values, by metric.
        ledger: what the run consumed.
        rows: its leaderboard rows, one per (direction, metric).
        metrics_by_direction: every evaluated direction's values.
        resumed_from_step: the checkpoint step training continued from, or ``None``.
    """

    run_id: str
    run_dir: Path
    leaderboard: Path
    metrics: dict[str, float]
    ledger: Ledger
    rows: list[LeaderboardRow] = field(repr=False)
    metrics_by_direction: dict[str, dict[str, float]] = field(default_factory=dict)
    resumed_from_step: int | None = None


def leaderboard_rows(
    prepared: PreparedRun, trained: TrainedRun, evaluation: Evaluation
) -> list[LeaderboardRow]:
    """One row per (evaluated direction, metric), in evaluation order (``eval_unit`` ``"slice"``),
    then one per (direction, metric) scored per patient volume (``eval_unit`` ``"volume"``), then
    one per (direction, metric) scored per patient on the native grid (``eval_unit``
    ``"volume"``, ``eval_grid`` ``"native"``).

    ``metric_args`` holds the metric's own arguments alone, the same on all three kinds of row:
    the evaluation axes are the ``eval_unit`` and ``eval_grid`` columns.
    """
    run, spec, ledger = prepared.run, prepared.spec, trained.ledger
    common = LeaderboardRow(
        run_id=run.run_id,
        created_at=datetime.now(timezone.utc),
        model=spec.model,
        model_version=run.model_version,
        model_args=canonical_json(run.model_args),
        dataset=spec.dataset,
        dataset_version=run.dataset_version,
        dataset_args=canonical_json(run.dataset_args),
        dataset_fingerprint=prepared.fingerprint,
        image_size=spec.image_size,
        direction="",
        eval_split=spec.eval_split,
        eval_unit="slice",
        eval_grid="image_size",
        protocol=spec.protocol,
        metric="",
        metric_version="",
        metric_convention="",
        metric_args="{}",
        metric_details="{}",
        value=0.0,
        noise_floor=None,
        weights="{}",
        higher_is_better=True,
        seed=spec.seed,
        track="budgeted",
        budget_steps=spec.budget.steps,
        budget_kimg=spec.budget.kimg,
        budget_seconds=spec.budget.seconds,
        steps_done=ledger.steps,
        selected_step=(
            trained.selected_step if trained.selected_step is not None else ledger.steps
        ),
        kimg_done=ledger.kimg,
        train_seconds=ledger.train_seconds,
        device_seconds=ledger.train_seconds * prepared.world.size,
        world_size=prepared.world.size,
        per_device_batch=prepared.batch.per_device,
        global_batch=prepared.batch.total,
        eval_seconds=ledger.eval_seconds,
        eval_seconds_per_image=None,
        sampling_steps=None,
        peak_memory_mb=trained.peak_memory_mb,
        device=device_name(prepared.device),
        precision=prepared.settings.precision,
        channels_last=prepared.settings.channels_last,
        parameters=prepared.model.parameter_count(),
        flops_per_step=trained.flops_per_step,
        medganbench_version=__version__,
        provenance="{}",
        status="ok",
    )
    rows = [
        dataclasses.replace(
            common,
            direction=direction,
            metric=name,
            metric_version=run.metric_versions[name],
            metric_convention=prepared.metrics[name].convention,
            metric_args=canonical_json(run.metric_args[name]),
            metric_details=canonical_json(dict(report.details)),
            value=value,
            noise_floor=report.noise_floor,
            weights=canonical_json(dict(report.weights)),
            higher_is_better=prepared.metrics[name].higher_is_better,
            provenance=row_provenance(run.provenance, name),
        )
        for direction, by_name in evaluation.scores.items()
        for name, (value, report) in by_name.items()
    ]
    rows = [with_cost(row, prepared, evaluation) for row in rows]
    return rows + [
        with_cost(row, prepared, evaluation)
        for row in [
            dataclasses.replace(
                common,
                direction=direction,
                metric=name,
                metric_version=run.metric_versions[name],
                eval_unit="volume",
                metric_convention=f"{prepared.metrics[name].convention}; {VOLUME_CONVENTION}",
                metric_args=canonical_json(run.metric_args[name]),
                metric_details=canonical_json(dict(report.details)),
                value=value,
                higher_is_better=prepared.metrics[name].higher_is_better,
                provenance=row_provenance(run.provenance, name),
            )
            for direction, by_name in evaluation.volume_scores.items()
            for name, (value, report) in by_name.items()
        ]
        + [
            dataclasses.replace(
                common,
                direction=direction,
                metric=name,
                metric_version=run.metric_versions[name],
                eval_unit="volume",
                eval_grid="native",
                metric_convention=(
                    f"{prepared.metrics[name].convention}; {VOLUME_CONVENTION}; {NATIVE_CONVENTION}"
                ),
                metric_args=canonical_json(run.metric_args[name]),
                metric_details=canonical_json(dict(report.details)),
                value=value,
                higher_is_better=prepared.metrics[name].higher_is_better,
                provenance=row_provenance(run.provenance, name),
            )
            for direction, by_name in evaluation.native_scores.items()
            for name, (value, report) in by_name.items()
        ]
    ]


def with_cost(row: LeaderboardRow, prepared: PreparedRun, evaluation: Evaluation) -> LeaderboardRow:
    """``row`` with the cost of one output of its direction: the measured seconds per image
    and the model's network evaluations per output (twice for a round trip)."""
    trips = 2 if is_cycle(row.direction) else 1
    return dataclasses.replace(
        row,
        eval_seconds_per_image=evaluation.seconds_per_image.get(row.direction),
        sampling_steps=prepared.model.sampling_steps * trips,
    )


def row_provenance(provenance: Mapping[str, Any], metric: str) -> str:
    """The ``provenance`` of a row of ``metric``: the distributions of its model, dataset and
    metric (from :attr:`~medganbench.run.spec.ResolvedRun.provenance`; ``{}`` if unknown)."""
    if not provenance:
        return "{}"
    return canonical_json(
        {
            "model": provenance.get("model"),
            "dataset": provenance.get("dataset"),
            "metric": provenance.get("metrics", {}).get(metric),
        }
    )


#: What a volume row's convention adds to its metric's own.
VOLUME_CONVENTION = (
    "eval_unit=volume: each test patient's slices in slice order scored as one volume inside "
    "its mask, then the mean over patients (per-patient values in metric_details)"
)
#: What a native-grid volume row's convention adds.
NATIVE_CONVENTION = (
    "eval_grid=native: translated slices resized back (bilinear) to the native in-plane size "
    "and scored against the native target and mask"
)


def resume_command(run_dir: Path, options: RunOptions) -> str:
    """The command that continues (or records) the run in ``run_dir`` with these options."""
    words = ["medganbench", "run", "--resume", str(run_dir)]
    if Path(options.leaderboard_dir) != defaults.leaderboard_dir():
        words += ["--leaderboard-dir", str(options.leaderboard_dir)]
    if options.data_dir is not None:
        words += ["--data-dir", str(options.data_dir)]
    return shlex.join(words)


def _not_recorded(prepared: PreparedRun, exc: Exception) -> LeaderboardError:
    """The error of a finished run whose rows could not be appended: nothing is lost."""
    if isinstance(exc, OSError):
        reason, _ = describe_os_error(exc)
    else:
        reason = exc.message if isinstance(exc, LeaderboardError) else str(exc)
    return LeaderboardError(
        f"Run {prepared.run_id} finished, but its rows could not be appended to "
        f"{prepared.board}: {reason}. The result is kept in "
        f"{prepared.run_dir / RESULT_NAME}, and the final checkpoint beside it.",
        hint=f"Fix the cause, then record it without training again: "
        f"{resume_command(prepared.run_dir, prepared.options)}",
    )


def unrecorded_result(prepared: PreparedRun, ledger: Ledger) -> RunResult:
    """What a process of a multi-device run other than process 0 returns: the ledger, and no
    metric, row or file (process 0 evaluates and records the run)."""
    return RunResult(prepared.run_id, prepared.run_dir, prepared.board, {}, ledger, [])


def record(prepared: PreparedRun, trained: TrainedRun, evaluation: Evaluation) -> RunResult:
    """Write ``result.json`` and, unless the options say otherwise, append the rows.

    Raises:
        LeaderboardError: the leaderboard cannot be appended to (the result file is kept).
    """
    rows = leaderboard_rows(prepared, trained, evaluation)
    values = evaluation.values()
    # Before the result and the rows: a recorded run always has its generator beside it.
    exported = save_run_generator(prepared, trained)
    ledger = trained.ledger
    write_json(
        prepared.run_dir / RESULT_NAME,
        {
            "run_id": prepared.run_id,
            "metrics": values,
            **({"volume_metrics": evaluation.volume_values()} if evaluation.volume_scores else {}),
            "metric_reports": {
                d: {
                    name: {
                        "details": dict(rep.details),
                        "weights": dict(rep.weights),
                        "noise_floor": rep.noise_floor,
                        "artifacts": sorted(rep.artifacts),
                    }
                    for name, (_, rep) in by.items()
                }
                for d, by in evaluation.scores.items()
            },
            "precision": prepared.settings.precision,
            "channels_last": prepared.settings.channels_last,
            "parameters": prepared.model.parameter_count(),
            "flops_per_step": trained.flops_per_step,
            "ledger": {
                "steps": ledger.steps,
                "images": ledger.images,
                "train_seconds": ledger.train_seconds,
                "eval_seconds": ledger.eval_seconds,
                "peak_memory_mb": rows[0].peak_memory_mb,
                "device": rows[0].device,
                "world_size": rows[0].world_size,
                "per_device_batch": rows[0].per_device_batch,
                "global_batch": rows[0].global_batch,
                "device_seconds": rows[0].device_seconds,
            },
            "eval_seconds_per_image": evaluation.seconds_per_image,
            "sampling_steps": prepared.model.sampling_steps,
            "resumed_from_step": trained.resumed_from_step,
            "protocol": rows[0].protocol,
            "selected_step": rows[0].selected_step,
            "deterministic": prepared.options.deterministic,
            "generator": GENERATOR_CONFIG if exported else None,
        },
    )
    if prepared.options.record:
        try:
            append_rows(prepared.board, rows, unless_recorded=True)
        except AlreadyRecordedError:
            raise LeaderboardError(
                f"Run {prepared.run_id} was recorded on {prepared.board} by another process "
                "while this one ran; this copy was not appended, so the run is recorded once.",
                hint=f"This copy's result is in {prepared.run_dir / RESULT_NAME}.",
            ) from None
        except (OSError, LeaderboardError) as exc:
            raise _not_recorded(prepared, exc) from None
        if not prepared.options.keep_checkpoint:
            prune_checkpoint(prepared.run_dir)
            prune_best(prepared.run_dir)
    primary = next(iter(values))
    return RunResult(
        prepared.run_id,
        prepared.run_dir,
        prepared.board,
        values[primary],
        ledger,
        rows,
        metrics_by_direction=values,
        resumed_from_step=trained.resumed_from_step,
    )
