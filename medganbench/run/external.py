"""Outputs made elsewhere, scored with exactly what a run uses (``medganbench score``).

The inputs come from :func:`medganbench.run.export.export_split`. :func:`score_outputs` reads the
outputs folder (:mod:`medganbench.run.outputs`), then goes through the run's own phases: the
dataset and metrics are built by :func:`~medganbench.run.prepare.build_dataset` and
:func:`~medganbench.run.prepare.build_metrics`, the combination is checked by
:func:`~medganbench.run.prepare.check_compatibility`, and :func:`~medganbench.run.evaluate.evaluate`
scores a stand-in model (:class:`ExternalTranslations`, :class:`ExternalSamples`) that hands it
the user's images batch by batch in sample order. So the metrics, their conventions, the split,
the per-patient rows and the sample grids are the run's, not a copy of them.

Rows are ``track=external``: no budget (null budget columns, nothing trained), the model named by
the user, ``model_args`` with the outputs' hash, ``provenance.model`` null. The run id hashes the
outputs' values, the dataset (name, version, arguments, fingerprint), the split, the direction
and the metrics, so scoring the same outputs again is "already recorded".
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from medganbench import defaults
from medganbench.core.manager import Registries
from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.core.names import is_component_name
from medganbench.core.params import ArgValue, Param, canonical_json
from medganbench.core.registry import Registry
from medganbench.core.specs import ModelSpec
from medganbench.errors import DataError, LeaderboardError, UsageError
from medganbench.fileio import write_json
from medganbench.leaderboard.schema import LeaderboardRow
from medganbench.leaderboard.store import (
    AlreadyRecordedError,
    append_rows,
    leaderboard_path,
    real_path,
    recorded_run_ids,
)
from medganbench.run.budget import Ledger
from medganbench.run.dataset_checks import check_eval_grid
from medganbench.run.device import pick_device, seed_everything
from medganbench.run.evaluate import evaluate
from medganbench.run.folders import check_folders, check_run_dir
from medganbench.run.options import RunOptions
from medganbench.run.outputs import (
    ImageShape,
    read_outputs,
    sample_name,
)
from medganbench.run.prepare import (
    PreparedRun,
    Settings,
    StatusSink,
    build_dataset,
    build_metrics,
    check_compatibility,
    prefetch_weights,
)
from medganbench.run.record import RESULT_NAME, leaderboard_rows
from medganbench.run.spec import ResolvedRun, RunSpec, metrics_for, resolve_run
from medganbench.run.threads import threads_for_run
from medganbench.run.trained import TrainedRun

#: The values of ``--task``.
TASKS: tuple[str, ...] = ("translate", "sample")
#: The one-way directions outputs can be made in.
EXTERNAL_DIRECTIONS: tuple[str, ...] = ("a2b", "b2a")
#: The run folder's description of what was scored.
EXTERNAL_NAME = "external.json"


class _Outputs(Model):
    """A stand-in model serving outputs made elsewhere, in sample order, to the evaluation.

    ``evaluate`` calls :meth:`eval_mode` before each direction, then asks for one batch after
    the other of the split in order; the outputs are handed out in that order.
    """

    task: ClassVar[Task]

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        self.outputs = torch.empty(0)
        self._cursor = 0

    def _next(self, n: int) -> torch.Tensor:
        batch = self.outputs[self._cursor : self._cursor + n]
        if batch.shape[0] != n:
            raise DataError("The split has more samples than the outputs read for it.")
        self._cursor += n
        return batch.to(self.ctx.device)

    def eval_mode(self) -> None:
        self._cursor = 0

    def train_step(self, batch: TrainBatch) -> Mapping[str, float | torch.Tensor]:
        raise NotImplementedError("outputs made elsewhere are not trained")

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Nothing to restore."""


class ExternalTranslations(_Outputs):
    """Translations made elsewhere: ``translate`` returns the next batch of them."""

    task = Task.TRANSLATE

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        return self._next(source.shape[0])


class ExternalSamples(_Outputs):
    """Samples made elsewhere (the unconditional track): ``sample`` returns the next batch."""

    task = Task.SAMPLE

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self._next(n)


@dataclass(frozen=True)
class ExternalSpec:
    """What to score.

    Attributes:
        name: the name the rows give the model (a component-like name).
        outputs: the folder of output files.
        dataset, dataset_args, image_size, split: the data the outputs were made for.
        direction: ``a2b`` or ``b2a``; for samples, the domain they imitate is its end.
        task: ``translate`` (one output per input) or ``sample`` (one image per sample of the
            split, unconditioned).
        metrics: metric names; empty = the defaults a run of this task gets on this dataset.
        metric_args: per metric, its arguments.
        version: the version the rows give the model.
        allow_unverified_weights: as for a run.
        eval_grid: as for a run (:attr:`~medganbench.run.spec.RunSpec.eval_grid`).
    """

    name: str
    outputs: Path
    dataset: str
    dataset_args: Mapping[str, ArgValue] = field(default_factory=dict)
    image_size: int = defaults.IMAGE_SIZE
    split: str = "test"
    direction: str = "a2b"
    task: str = "translate"
    metrics: tuple[str, ...] = ()
    metric_args: Mapping[str, Mapping[str, ArgValue]] = field(default_factory=dict)
    version: str = "1"
    allow_unverified_weights: bool = False
    eval_grid: str = "image_size"


@dataclass(frozen=True)
class ScoreResult:
    """What scoring produced: the run id, its folder, the leaderboard and the rows."""

    run_id: str
    run_dir: Path
    leaderboard: Path
    rows: list[LeaderboardRow]


def resolve_external(
    spec: ExternalSpec, registries: Registries, metrics: tuple[str, ...]
) -> ResolvedRun:
    """The run-shaped resolution of ``spec``: the dataset's and metrics' arguments checked and
    typed, their versions fixed, exactly as :func:`resolve_run` does for a run."""
    if not is_component_name(spec.name):
        raise UsageError(
            f"--name {spec.name!r} is not a valid model name.",
            hint="Lower case letters, digits and hyphens, starting with a letter, e.g. my-unet.",
        )
    if spec.name in registries.models:
        raise UsageError(
            f"--name {spec.name!r} is the name of an installed model; rows of outputs made "
            "elsewhere must not be mistaken for it.",
            hint=f"Choose another name, e.g. {spec.name}-external.",
        )
    if spec.task not in TASKS or spec.direction not in EXTERNAL_DIRECTIONS:
        raise UsageError(
            f"--task must be one of {TASKS} and --direction one of {EXTERNAL_DIRECTIONS}."
        )
    if not spec.version or len(spec.version) > 40 or not spec.version.isprintable():
        raise UsageError(f"--model-version {spec.version!r} must be 1 to 40 printable characters.")
    factory = _model_class(spec)
    stand_in: Registry[ModelSpec] = Registry("model")
    stand_in.add(
        ModelSpec(
            spec.name,
            "outputs made elsewhere",
            spec.version,
            factory,
            (Param("direction", "a2b", choices=EXTERNAL_DIRECTIONS),),
        ),
        "external",
    )
    run_spec = RunSpec(
        model=spec.name,
        dataset=spec.dataset,
        model_args={"direction": spec.direction},
        dataset_args=spec.dataset_args,
        image_size=spec.image_size,
        metrics=metrics,
        metric_args=spec.metric_args,
        eval_split=spec.split,
        allow_unverified_weights=spec.allow_unverified_weights,
        eval_grid=spec.eval_grid,
    )
    run = resolve_run(run_spec, dataclasses.replace(registries, models=stand_in))
    provenance = {**run.provenance, "model": None}
    return dataclasses.replace(run, provenance=provenance)


def score_outputs(
    spec: ExternalSpec,
    registries: Registries,
    options: RunOptions = RunOptions(),
    on_status: StatusSink = lambda message: None,
) -> ScoreResult:
    """Score the outputs in ``spec.outputs`` as a run would and append ``track=external`` rows.

    The metrics compute with the CPU threads ``options.threads`` asks for, as in a run
    (:func:`~medganbench.run.threads.threads_for_run`).

    Raises:
        UsageError: a bad name, argument or combination, or outputs already recorded.
        DataError: the outputs folder does not match the split (one message listing every
            missing, extra or wrong-size file); nothing is written then.
        LeaderboardError: the rows cannot be appended.
    """
    with threads_for_run(options.threads, pick_device(options.device)):
        return _score(spec, registries, options, on_status)


def _score(
    spec: ExternalSpec, registries: Registries, options: RunOptions, on_status: StatusSink
) -> ScoreResult:
    task = Task.SAMPLE if spec.task == "sample" else Task.TRANSLATE
    metrics = spec.metrics or metrics_for(
        task, registries.datasets.get(spec.dataset).is_paired(spec.dataset_args)
    )
    run = resolve_external(spec, registries, metrics)
    check_folders(options)
    board = leaderboard_path(options.leaderboard_dir, spec.dataset)
    real_path(board)  # a loop of links is refused before anything is read or scored
    device = pick_device(options.device)
    seed_everything(0)
    dataset = build_dataset(run, registries, options)
    check_eval_grid(run.spec, dataset)
    info = dataset.info
    fingerprint = dataset.fingerprint()
    model_cls = _model_class(spec)
    if spec.split not in info.splits:
        raise UsageError(f"Dataset {spec.dataset!r} has no {spec.split!r} split.")
    n = len(dataset.split(spec.split))  # type: ignore[arg-type]
    target = info.domain(spec.direction[2])  # type: ignore[arg-type]
    outputs = read_outputs(
        spec.outputs,
        [sample_name(i) for i in range(n)],
        ImageShape(target.channels, spec.image_size, target.window),
    )
    built = build_metrics(run, registries, options, dataset, fingerprint, device)
    check_compatibility(run, info, model_cls, built)
    identity = {
        "track": "external",
        "model": spec.name,
        "model_version": run.model_version,
        "task": spec.task,
        "direction": spec.direction,
        "outputs_sha256": outputs.sha256,
        "dataset": spec.dataset,
        "dataset_version": run.dataset_version,
        "dataset_args": run.dataset_args,
        "dataset_fingerprint": fingerprint,
        "image_size": spec.image_size,
        "eval_split": spec.split,
        "metrics": run.metric_versions,
        "metric_args": {k: v for k, v in run.metric_args.items() if v},
        # Only when native, so that the ids of outputs scored before the option existed stay.
        **({"eval_grid": spec.eval_grid} if spec.eval_grid != "image_size" else {}),
    }
    run_id = hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:16]
    if run_id in recorded_run_ids(board):
        raise UsageError(
            f"These outputs were already scored as run {run_id} ({spec.name} on {spec.dataset}) "
            f"on {board}.",
            hint="The same outputs, data and metrics give the same rows.",
        )
    prefetch_weights(built, on_status, unverified_ok=spec.allow_unverified_weights)
    check_run_dir(options.runs_dir, run_id)
    run_dir = options.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / EXTERNAL_NAME, {"run_id": run_id, **identity})
    model = model_cls(
        {"direction": spec.direction},
        ModelContext(spec.image_size, info, device, 0),
    )
    model.outputs = target.to_unit(outputs.images)
    prepared = PreparedRun(
        run, options, board, device, dataset, fingerprint, built, model,
        Settings(amp=False, channels_last=False), run_dir, None,
    )  # fmt: skip
    trained = TrainedRun(Ledger(), 0, 0.0, None)
    evaluation = evaluate(prepared, trained)
    model_args = canonical_json(
        {"direction": spec.direction, "task": spec.task, "outputs_sha256": outputs.sha256}
    )
    rows = [
        row.replace(
            run_id=run_id,
            model_args=model_args,
            track="external",
            budget_steps=None,
            budget_kimg=None,
            budget_seconds=None,
            peak_memory_mb=0.0,
            parameters=None,
            flops_per_step=None,
            per_device_batch=None,
            global_batch=None,
            # Made elsewhere: reading the files is not what making them cost.
            eval_seconds_per_image=None,
            sampling_steps=None,
        )
        for row in leaderboard_rows(prepared, trained, evaluation)
    ]
    write_json(
        run_dir / RESULT_NAME,
        {"run_id": run_id, "track": "external", "metrics": evaluation.values()},
    )
    if options.record:
        try:
            append_rows(board, rows, unless_recorded=True)
        except AlreadyRecordedError:
            raise LeaderboardError(
                f"Run {run_id} was recorded on {board} by another process meanwhile."
            ) from None
    return ScoreResult(run_id, run_dir, board, rows)


def _model_class(spec: ExternalSpec) -> type[_Outputs]:
    """The stand-in model class of ``spec``'s task."""
    return ExternalSamples if spec.task == "sample" else ExternalTranslations
