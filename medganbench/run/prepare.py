"""Phase 1 of a run: everything that can be decided or fail before training starts.

:func:`prepare` resolves the spec, refuses a run that is already recorded and combinations that
would produce meaningless numbers, builds the dataset, the metrics and the model, fetches every
pretrained weight the metrics need, writes ``spec.json`` into the run directory and picks up the
checkpoint to resume from. A run that would fail for any of these reasons fails here, in
seconds, rather than after its training budget.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medganbench import interrupts
from medganbench.core.dataset import Dataset, DatasetContext, DatasetInfo
from medganbench.core.manager import Registries
from medganbench.core.metric import Metric, MetricContext, Needs
from medganbench.core.model import Model, ModelContext, Task
from medganbench.defaults import medganbench_home
from medganbench.errors import DataError, UsageError
from medganbench.fileio import write_json
from medganbench.leaderboard.store import leaderboard_path, recorded_run_ids
from medganbench.run.batch_plan import BatchPlan, plan_batches
from medganbench.run.checkpoint import Checkpoint
from medganbench.run.dataset_checks import (
    check_dimensions,
    check_eval_grid,
    check_labels,
    check_validation_split,
)
from medganbench.run.device import effective_precision, pick_device, seed_everything
from medganbench.run.distributed import SINGLE, World, check_world, rank_device, rank_seed
from medganbench.run.folders import check_folders, check_run_dir
from medganbench.run.memory import out_of_memory_is_an_error
from medganbench.run.options import RunOptions
from medganbench.run.resume import LOCAL_NAME, SPEC_NAME, checkpoint_to_resume
from medganbench.run.spec import ResolvedRun, RunSpec, resolve_run
from medganbench.run.training_data import training_images, training_labelled
from medganbench.weights.store import cached, resolve_weights

#: Status messages go to this callable (the CLI prints them).
StatusSink = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """Precision and memory format as the device honours them (recorded on the row).

    Attributes:
        amp: train and translate under bf16 autocast (weights, optimiser state, losses and
            metrics stay fp32).
        channels_last: channels-last memory format.
    """

    amp: bool
    channels_last: bool

    @property
    def precision(self) -> str:
        """The row's ``precision``: ``"bf16-mixed"`` or ``"fp32"``."""
        return "bf16-mixed" if self.amp else "fp32"


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to train: everything built, checked and on its device.

    Attributes:
        run: the resolved spec (arguments typed, versions fixed, run id).
        options: where to write and how to run.
        board: the leaderboard file the rows go to.
        device: where the model trains and is evaluated.
        dataset: the dataset instance.
        fingerprint: the dataset's data fingerprint (computed once).
        metrics: the metric instances, in the spec's order.
        model: the model, freshly built (a checkpoint is restored by the train phase).
        settings: the precision and memory format the device honours.
        run_dir: ``runs/<run id>``, with ``spec.json`` written.
        checkpoint: the checkpoint to continue from, if resuming.
        created_run_dir: ``run_dir`` did not exist before this run (it may be removed again
            if the run fails before anything is kept there: see
            :func:`~medganbench.run.memory.forget_new_run_dir`).
        val_metrics: instances of the run's metrics for the validation split, scored every
            ``--eval-every`` steps (empty without it).
        world: this process's place among the run's devices (one process: :data:`SINGLE`).
        batch: how a step's images are shared by the devices (on the rows).
    """

    run: ResolvedRun
    options: RunOptions
    board: Path
    device: torch.device
    dataset: Dataset
    fingerprint: str
    metrics: dict[str, Metric]
    model: Model
    settings: Settings
    run_dir: Path
    checkpoint: Checkpoint | None
    created_run_dir: bool = False
    val_metrics: dict[str, Metric] = field(default_factory=dict)
    world: World = SINGLE
    batch: BatchPlan = BatchPlan(1, 1)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def spec(self) -> RunSpec:
        return self.run.spec


def prepare(
    spec: RunSpec,
    registries: Registries,
    options: RunOptions = RunOptions(),
    on_status: StatusSink = lambda message: None,
    world: World = SINGLE,
) -> PreparedRun:
    """Resolve, check and build everything a run needs, in the order that keeps runs exact.

    The order is part of the run's reproducibility: the process RNGs are seeded first, then the
    dataset, metrics and model are built (their constructors draw from those RNGs).

    On several devices every process prepares alike (each reads the data and checks the
    leaderboard), but only process 0 writes to the run folder; the model of process ``r > 0``
    is built, and its random streams go on, from :func:`~medganbench.run.distributed.rank_seed`
    (its weights are replaced by process 0's before training).

    Raises:
        UsageError: see :func:`~medganbench.run.spec.resolve_run`, :func:`check_eval_grid` and
            :func:`check_compatibility`; also when the run is already on the leaderboard.
        DataError: the dataset does not honour its contract.
        WeightsUnavailableError: a metric's weights cannot be obtained.
        RunError: the checkpoint to resume from is unreadable or of another run.
    """
    run = resolve_run(spec, registries)
    board = leaderboard_path(options.leaderboard_dir, spec.dataset)
    check_folders(options)
    check_run_dir(options.runs_dir, run.run_id)
    if run.run_id in recorded_run_ids(board):
        raise UsageError(
            f"Run {run.run_id} ({spec.model} on {spec.dataset}) is already on {board}.",
            hint="The same spec gives the same result; change the seed or budget to run another.",
        )
    check_world(spec.devices, world)
    device = rank_device(pick_device(options.device), world)
    seed_everything(spec.seed)
    dataset = build_dataset(run, registries, options)
    check_eval_grid(spec, dataset)
    info = dataset.info
    model_cls = registries.models.get(spec.model).load()
    fingerprint = dataset.fingerprint()
    metrics = build_metrics(run, registries, options, dataset, fingerprint, device)
    check_compatibility(run, info, model_cls, metrics)
    val_metrics: dict[str, Metric] = {}
    if spec.eval_every is not None:
        check_validation_split(spec, dataset)
        val_metrics = build_metrics(
            run, registries, options, dataset, fingerprint, device, split="val"
        )
    prefetch_weights(metrics, on_status, unverified_ok=spec.allow_unverified_weights)

    run_dir = options.runs_dir / run.run_id
    checkpoint = checkpoint_to_resume(run_dir, run.run_id) if options.resume else None
    if checkpoint is not None:
        on_status(f"resuming run {run.run_id} from step {checkpoint.ledger.steps}")

    settings = effective_settings(spec, device, getattr(model_cls, "spatial_dims", 2))
    model_seed = rank_seed(spec.seed, world.rank)
    if model_seed != spec.seed:
        seed_everything(model_seed)
    # Built before the run folder is made: a model too large for the machine leaves none.
    with out_of_memory_is_an_error(spec.model, "while it was built"):
        model: Model = registries.models.get(spec.model).build(
            run.model_args,
            ModelContext(
                spec.image_size,
                info,
                device,
                model_seed,
                amp=settings.amp,
                channels_last=settings.channels_last,
            ),
        )
    batch = plan_batches(model, spec.devices)
    created = not run_dir.exists()
    if world.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / SPEC_NAME, run.recorded())
        if run.dataset_location:
            # Where the data are on this machine: for --resume here, never published or sent
            # back.
            write_json(run_dir / LOCAL_NAME, {"dataset_location": run.dataset_location})
    return PreparedRun(
        run,
        options,
        board,
        device,
        dataset,
        fingerprint,
        metrics,
        model,
        settings,
        run_dir,
        checkpoint,
        created,
        val_metrics,
        world,
        batch,
    )


def build_dataset(run: ResolvedRun, registries: Registries, options: RunOptions) -> Dataset:
    """The run's dataset, built as every run builds it (``medganbench score`` and
    ``datasets export`` too, so they see exactly the run's splits).

    Raises:
        UsageError: ``--data-dir`` was given for a dataset that reads no files.
        DataError: the dataset does not deliver the requested image size (or its own errors).
    """
    spec = run.spec
    dataset_spec = registries.datasets.get(spec.dataset)
    reads_files = dataset_spec.locate is not None or any(p.location for p in dataset_spec.params)
    if options.data_dir is not None and not reads_files:
        raise UsageError(
            f"Dataset {spec.dataset!r} reads no files (it is generated), so --data-dir "
            f"{options.data_dir} does not apply.",
            hint="Leave out --data-dir, or pick a dataset of files (medganbench list datasets).",
        )
    cache_root = options.cache_dir or medganbench_home()
    dataset: Dataset = dataset_spec.build(
        run.dataset_build_args(),
        DatasetContext(spec.image_size, cache_root / "datasets" / spec.dataset, options.data_dir),
    )
    interrupts.check()  # data generation can take a while
    if dataset.info.image_size != spec.image_size:
        raise DataError(
            f"Dataset {spec.dataset!r} delivered {dataset.info.image_size} px images, "
            f"{spec.image_size} px were asked for."
        )
    return dataset


def build_metrics(
    run: ResolvedRun,
    registries: Registries,
    options: RunOptions,
    dataset: Dataset,
    fingerprint: str,
    device: torch.device,
    split: str | None = None,
) -> dict[str, Metric]:
    """The run's metric instances, in the spec's order, with the context every run gives them,
    for the evaluation split or ``split`` (the validation split, during training)."""
    spec = run.spec
    metric_ctx = MetricContext(
        training_images=functools.partial(training_images, dataset),
        device=device,
        cache_dir=(options.cache_dir or medganbench_home()) / "features",
        dataset=spec.dataset,
        dataset_version=run.dataset_version,
        dataset_fingerprint=fingerprint,
        split=split or spec.eval_split,
        image_size=spec.image_size,
        allow_unverified_weights=spec.allow_unverified_weights,
        encoders={e.spec.name: e.spec for e in registries.encoders.entries()},
        label_classes=dataset.info.labels,
        training_labelled=(
            functools.partial(training_labelled, dataset) if dataset.info.labels else None
        ),
        volume=dataset.info.volume,
    )
    return {
        name: registries.metrics.get(name).build(run.metric_args[name], metric_ctx)
        for name in spec.metrics
    }


def effective_settings(spec: RunSpec, device: torch.device, spatial_dims: int = 2) -> Settings:
    """The precision and memory format ``device`` honours for what ``spec`` asks.

    Precision: see :func:`~medganbench.run.device.effective_precision`. Channels-last pays off
    on CUDA tensor cores only; a CPU run keeps the contiguous format whatever was asked.

    Raises:
        UsageError: ``--precision bf16`` on a GPU without bf16, or for a 3-D model
            (``spatial_dims`` 3) on a CPU.
    """
    amp = effective_precision(spec.precision, device, spatial_dims)
    return Settings(amp=amp, channels_last=spec.channels_last and device.type == "cuda")


def check_compatibility(
    run: ResolvedRun, info: DatasetInfo, model_cls: Any, metrics: dict[str, Metric]
) -> None:
    """Refuse, before training, combinations that would produce meaningless numbers.

    Raises:
        UsageError: a paired metric on unpaired data or on a sampling model, a model that needs
            paired training data on an unpaired dataset, or a missing split.
    """
    spec = run.spec
    for split in ("train", spec.eval_split):
        if split not in info.splits:
            raise UsageError(
                f"Dataset {spec.dataset!r} has no {split!r} split.",
                hint=f"Its splits: {', '.join(info.splits)}",
            )
    if getattr(model_cls, "needs_paired_training", False) and not info.paired:
        raise UsageError(
            f"Model {spec.model!r} needs paired training data, but dataset {spec.dataset!r} "
            "is unpaired.",
            hint="Use a cycle-consistent model (e.g. cyclegan) or a paired dataset.",
        )
    check_dimensions(run, info, model_cls, metrics)
    task = getattr(model_cls, "task", Task.TRANSLATE)
    check_labels(run, info, task, metrics)
    paired_metrics = [name for name, m in metrics.items() if m.needs is Needs.PAIRED]
    # A cycle-consistent model scores A→B→A against A itself: a true pair even on unpaired data.
    cycle = task is Task.TRANSLATE and getattr(model_cls, "cycle_consistent", False)
    if paired_metrics and (not info.paired or task is Task.SAMPLE) and not cycle:
        why = (
            f"dataset {spec.dataset!r} is unpaired"
            if not info.paired
            else f"model {spec.model!r} samples images that have no paired target"
        )
        raise UsageError(
            f"Paired metric(s) {', '.join(paired_metrics)} cannot be computed: {why}, so there is "
            "no pixel-wise ground truth to compare with.",
            hint="Use distribution metrics (e.g. fid, kid) for unpaired data.",
        )


def _prefixed(sink: StatusSink, prefix: str) -> StatusSink:
    return lambda message: sink(prefix + message)


def prefetch_weights(
    metrics: dict[str, Metric], on_status: StatusSink, *, unverified_ok: bool = False
) -> None:
    """Resolve every metric's weights now (fetching if needed), before any training.

    Raises:
        WeightsUnavailableError: one artifact cannot be obtained (its message lists why).
        WeightsError: an explicit file matches no pin and ``unverified_ok`` is false.
    """
    seen: set[str] = set()
    for metric in metrics.values():
        for spec in metric.weights_needed():
            if spec.name in seen:
                continue
            seen.add(spec.name)
            if cached(spec) is None:
                on_status(f"weights {spec.name}: not cached, fetching")
            got = resolve_weights(
                spec,
                report=_prefixed(on_status, f"weights {spec.name}: "),
                unverified_ok=unverified_ok,
            )
            if not got.verified:
                # No pin vouches for this file: read it now (safely), so a file that is not
                # weights fails before the training budget is spent.
                got.load()
            if not got.source.startswith("cache"):
                on_status(f"weights {spec.name}: sha256 {got.sha256[:16]}… ({got.source})")
