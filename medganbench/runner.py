"""The budgeted runner: resolve a spec, train under the budget, evaluate, append to the leaderboard.

:func:`resolve_run` checks everything that can be checked without training (names, arguments,
metric/dataset compatibility); :func:`execute_run` then trains one step at a time until the
first budget limit is reached, evaluates on the test split with evaluation time metered apart,
writes the run directory (spec, checkpoint, sample grid, results) and appends one leaderboard
row per metric. Rows are appended only after everything else has succeeded, in one atomic
write, so an interrupted or failed run leaves no row and no half-written file.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from medganbench import __version__
from medganbench.batches import TrainBatches
from medganbench.budget import Ledger
from medganbench.checkpoint import (
    CHECKPOINT_NAME,
    Checkpoint,
    load_checkpoint,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from medganbench.dataset import Dataset, DatasetContext, DatasetInfo, DomainInfo, Sample
from medganbench.device import (
    device_name,
    peak_memory_mb,
    pick_device,
    reset_peak_memory,
    seed_everything,
)
from medganbench.errors import DataError, RunError, UsageError
from medganbench.fileio import atomic_write
from medganbench.flops import count_flops
from medganbench.home import medganbench_home
from medganbench.leaderboard import append_rows, leaderboard_path, read_leaderboard
from medganbench.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.model import Model, ModelContext, Task, TrainBatch
from medganbench.params import resolve_args
from medganbench.plugins import Registries
from medganbench.runspec import ResolvedRun, RunSpec, canonical_json
from medganbench.samples import save_sample_grid
from medganbench.weights import cached, resolve_weights

EVAL_BATCH_SIZE = 16


@dataclass(frozen=True)
class RunOptions:
    """How to run, as opposed to what (none of this enters the run id).

    Attributes:
        leaderboard_dir: where ``<dataset>.arrow`` lives.
        runs_dir: parent of the per-run directories.
        device: ``None`` picks CUDA when present, else CPU.
        checkpoint_every: steps between checkpoints; ``None`` = every quarter of a step budget
            (or every 500 steps without one). A final checkpoint is always written.
        progress: show the rich progress bar.
        cache_dir: cache root (datasets, weights); ``None`` = :func:`medganbench_home`.
        data_dir: where the dataset's files are (``--data-dir``); where the data live does not
            change a result (the dataset fingerprint on the row does), so it is not part of the
            run id.
        resume: continue from the run directory's checkpoint if there is one (else start at
            step 0). The resumed run ends with the same result as an uninterrupted one.
        deterministic: make torch use deterministic algorithms only (and fail on an operation
            that has none), so that two runs of one spec on one machine agree bit for bit.
        record: append the rows to the leaderboard. Sweep workers turn it off and hand the rows
            to the sweep, which is the leaderboard's single writer.
    """

    leaderboard_dir: Path = Path("leaderboards")
    runs_dir: Path = Path("runs")
    device: str | None = None
    checkpoint_every: int | None = None
    progress: bool = True
    cache_dir: Path | None = None
    data_dir: Path | None = None
    resume: bool = False
    deterministic: bool = False
    record: bool = True


@dataclass(frozen=True)
class RunResult:
    """What a finished run produced."""

    run_id: str
    run_dir: Path
    leaderboard: Path
    metrics: dict[str, float]
    ledger: Ledger
    rows: list[dict[str, Any]] = field(repr=False)
    metrics_by_direction: dict[str, dict[str, float]] = field(default_factory=dict)
    """Every evaluated direction's values; :attr:`metrics` is the primary direction's."""


def resolve_run(spec: RunSpec, registries: Registries) -> ResolvedRun:
    """Check names and arguments and fix the versions, without building anything heavy.

    Raises:
        UnknownNameError: an unknown model, dataset, metric or argument (exit code 2).
        UsageError: a bad argument value, an empty metric list or a bad image size.
    """
    if not 16 <= spec.image_size <= 4096:
        raise UsageError(f"--image-size {spec.image_size} is out of range (16 to 4096).")
    if not spec.metrics:
        raise UsageError("No metrics were asked for.", hint="Example: --metrics psnr,ssim,mae")
    if len(set(spec.metrics)) != len(spec.metrics):
        raise UsageError(f"A metric is listed twice in {','.join(spec.metrics)}.")
    model_spec = registries.models.get(spec.model)
    dataset_spec = registries.datasets.get(spec.dataset)
    metric_versions = {name: registries.metrics.get(name).version for name in spec.metrics}
    for name in spec.metric_args:
        if name not in spec.metrics:
            raise UsageError(
                f"--metric-arg for {name!r}, which is not among the run's metrics "
                f"({','.join(spec.metrics)})."
            )
    metric_args = {
        name: resolve_args(
            registries.metrics.get(name).params, spec.metric_args.get(name, {}), f"metric {name!r}"
        )
        for name in spec.metrics
    }
    return ResolvedRun(
        spec=spec,
        model_args=resolve_args(model_spec.params, spec.model_args, f"model {spec.model!r}"),
        dataset_args=resolve_args(dataset_spec.params, spec.dataset_args, f"dataset {spec.dataset!r}"),
        model_version=model_spec.version,
        dataset_version=dataset_spec.version,
        metric_versions=metric_versions,
        metric_args=metric_args,
    )


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
    task = getattr(model_cls, "task", Task.TRANSLATE)
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


def execute_run(
    spec: RunSpec,
    registries: Registries,
    options: RunOptions = RunOptions(),
    on_status: Callable[[str], None] = lambda message: None,
    on_step: Callable[[Ledger], None] | None = None,
) -> RunResult:
    """Train, evaluate and record one run.

    Args:
        spec: what to run.
        registries: the component registries (from :func:`medganbench.plugins.build_registries`).
        options: where to write and which device to use.
        on_status: receives one-line status messages (the CLI prints them).
        on_step: called with the ledger after every training step (sweeps report progress
            with it); it must be quick, since its time counts against the budget.

    Returns:
        The run's id, directory, metric values, ledger and the leaderboard rows appended.

    Raises:
        UsageError: see :func:`resolve_run` and :func:`check_compatibility`; also when the run
            is already on the leaderboard.
        DataError: the dataset does not honour its contract.
        RunError: training diverged (a non-finite loss) or evaluation failed.
        KeyboardInterrupt: passed through; nothing has been appended to the leaderboard.
    """
    run = resolve_run(spec, registries)
    run_id = run.run_id
    board = leaderboard_path(options.leaderboard_dir, spec.dataset)
    if _already_recorded(board, run_id):
        raise UsageError(
            f"Run {run_id} ({spec.model} on {spec.dataset}) is already on {board}.",
            hint="The same spec gives the same result; change the seed or budget to run another.",
        )
    device = pick_device(options.device)
    seed_everything(spec.seed)
    cache_root = options.cache_dir or medganbench_home()

    dataset_factory = registries.datasets.get(spec.dataset).load()
    dataset: Dataset = dataset_factory(
        run.dataset_args,
        DatasetContext(spec.image_size, cache_root / "datasets" / spec.dataset, options.data_dir),
    )
    info = dataset.info
    if info.image_size != spec.image_size:
        raise DataError(
            f"Dataset {spec.dataset!r} delivered {info.image_size} px images, "
            f"{spec.image_size} px were asked for."
        )
    model_cls = registries.models.get(spec.model).load()
    metric_ctx = MetricContext(
        device=device,
        cache_dir=cache_root / "features",
        dataset=spec.dataset,
        dataset_version=run.dataset_version,
        dataset_fingerprint=dataset.fingerprint(),
        split=spec.eval_split,
        image_size=spec.image_size,
    )
    metrics = {
        name: registries.metrics.get(name).load()(run.metric_args[name], metric_ctx)
        for name in spec.metrics
    }
    check_compatibility(run, info, model_cls, metrics)
    _prefetch_weights(metrics, on_status)

    run_dir = options.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "spec.json", {"run_id": run_id, **run.identity()})
    checkpoint = None
    if options.resume and (run_dir / CHECKPOINT_NAME).exists():
        checkpoint = load_checkpoint(run_dir / CHECKPOINT_NAME, run_id)
        on_status(f"resuming run {run_id} from step {checkpoint.ledger.steps}")

    settings = _effective_settings(spec, device)
    model: Model = model_cls(
        run.model_args,
        ModelContext(
            spec.image_size,
            info,
            device,
            spec.seed,
            amp=settings.amp,
            channels_last=settings.channels_last,
        ),
    )
    reset_peak_memory(device)
    with _determinism(options.deterministic):
        ledger, flops, peak = _train(
            model, dataset, run, device, run_dir, options, on_status, checkpoint, on_step
        )
    directions = tuple(model.eval_directions)
    scored = {}
    for direction in directions:
        usable = _meaningful(metrics, direction, info, model)
        if usable:
            scored[direction] = _evaluate(model, direction, dataset, run, device, run_dir, ledger, usable)
    if not scored:
        raise RunError(f"No metric of {','.join(spec.metrics)} can be computed for this run.")
    directions = tuple(scored)
    values = {d: {name: value for name, (value, _) in by.items()} for d, by in scored.items()}
    rows = _rows(run, dataset, model, metrics, scored, ledger, device, settings, flops, peak)
    _write_json(
        run_dir / "result.json",
        {
            "run_id": run_id,
            "metrics": values,
            "metric_reports": {
                d: {name: dataclasses.asdict(rep) for name, (_, rep) in by.items()}
                for d, by in scored.items()
            },
            "precision": settings.precision,
            "channels_last": settings.channels_last,
            "parameters": model.parameter_count(),
            "flops_per_step": flops,
            "ledger": {
                "steps": ledger.steps,
                "images": ledger.images,
                "train_seconds": ledger.train_seconds,
                "eval_seconds": ledger.eval_seconds,
                "peak_memory_mb": rows[0]["peak_memory_mb"],
                "device": rows[0]["device"],
            },
            "resumed_from_step": None if checkpoint is None else checkpoint.ledger.steps,
            "deterministic": options.deterministic,
        },
    )
    if options.record:
        append_rows(board, rows)
    return RunResult(
        run_id, run_dir, board, values[directions[0]], ledger, rows, metrics_by_direction=values
    )


@dataclass(frozen=True)
class _Settings:
    """Precision and memory format as the device honours them (recorded on the row)."""

    amp: bool
    channels_last: bool

    @property
    def precision(self) -> str:
        return "bf16-mixed" if self.amp else "fp32"


def _effective_settings(spec: RunSpec, device: torch.device) -> _Settings:
    # bf16 autocast and channels-last pay off on CUDA tensor cores; on CPU they are slower or
    # unsupported for several layers here, so a CPU run is fp32/contiguous whatever was asked.
    on_cuda = device.type == "cuda"
    bf16 = on_cuda and torch.cuda.is_bf16_supported()
    return _Settings(amp=spec.amp and bf16, channels_last=spec.channels_last and on_cuda)


def is_cycle(direction: str) -> bool:
    """``"a2b2a"`` / ``"b2a2b"``: translate there and back, compare with the input."""
    return direction in ("a2b2a", "b2a2b")


def _meaningful(
    metrics: dict[str, Metric], direction: str, info: DatasetInfo, model: Model
) -> dict[str, Metric]:
    """The metrics that mean something in ``direction``.

    Distribution metrics always do. Paired metrics need a pixel-wise counterpart: the paired
    target of a translation on paired data, or the input itself for a cycle direction.
    """
    paired_ok = is_cycle(direction) or (info.paired and model.task is Task.TRANSLATE)
    return {n: m for n, m in metrics.items() if m.needs is not Needs.PAIRED or paired_ok}


def _prefetch_weights(metrics: dict[str, Metric], on_status: Callable[[str], None]) -> None:
    """Resolve every metric's weights now (fetching if needed), before any training.

    Raises:
        WeightsUnavailableError: one artifact cannot be obtained (its message lists why).
    """
    seen: set[str] = set()
    for metric in metrics.values():
        for spec in metric.weights_needed():
            if spec.name in seen:
                continue
            seen.add(spec.name)
            if cached(spec) is None:
                on_status(f"weights {spec.name}: not cached, fetching")
            got = resolve_weights(spec, report=lambda m, n=spec.name: on_status(f"weights {n}: {m}"))
            if not got.source.startswith("cache"):
                on_status(f"weights {spec.name}: sha256 {got.sha256[:16]}… ({got.source})")


def _already_recorded(board: Path, run_id: str) -> bool:
    if not board.exists():
        return False
    table = read_leaderboard(board)
    return run_id in set(table.column("run_id").to_pylist())


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(payload, indent=2, default=str).encode()))


def _to_train_batch(
    raw: Sample, paired: bool, info: DatasetInfo, device: torch.device, channels_last: bool
) -> TrainBatch:
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def image(x: torch.Tensor, domain: DomainInfo) -> torch.Tensor:
        return domain.to_unit(x.to(device, non_blocking=True)).contiguous(memory_format=fmt)

    return TrainBatch(
        a=image(raw["a"], info.a),
        b=image(raw["b"], info.b),
        mask_a=raw["mask_a"].to(device),
        mask_b=raw["mask_b"].to(device),
        paired=paired,
    )


def _checkpoint_every(run: ResolvedRun, options: RunOptions) -> int:
    if options.checkpoint_every is not None:
        return max(1, options.checkpoint_every)
    steps = run.spec.budget.steps
    return max(1, steps // 4) if steps is not None else 500


@contextmanager
def _determinism(enabled: bool) -> Iterator[None]:
    """Deterministic algorithms only, for the duration of training (a process-wide switch)."""
    if not enabled:
        yield
        return
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def _train(
    model: Model,
    dataset: Dataset,
    run: ResolvedRun,
    device: torch.device,
    run_dir: Path,
    options: RunOptions,
    on_status: Callable[[str], None],
    checkpoint: Checkpoint | None = None,
    on_step: Callable[[Ledger], None] | None = None,
) -> tuple[Ledger, int, float]:
    """Step the model until the first budget limit; checkpoint periodically.

    Args:
        checkpoint: continue from this state instead of step 0.
        on_step: see :func:`execute_run`.

    Returns:
        The ledger; the FLOPs of one training step (counted on the first step, which runs as
        usual; only its wall time carries the counter's small overhead); the peak memory in MiB
        over every process that trained the run.
    """
    from medganbench.progress import TrainingProgress

    budget = run.spec.budget
    batches = TrainBatches(
        dataset.split("train"),
        model.batch_size,
        run.spec.seed,
        unpaired=type(model).unpaired_training,
        paired_data=dataset.info.paired,
    )
    ledger, flops, peak_before = Ledger(), 0, 0.0
    if checkpoint is not None:
        model.load_state_dict(checkpoint.model)
        batches.load_state_dict(checkpoint.data_order)
        # Last, so that nothing done while rebuilding the run moves an RNG off its state.
        restore_rng(checkpoint.rng)
        ledger, flops, peak_before = checkpoint.ledger, checkpoint.flops_per_step, checkpoint.peak_memory_mb

    def save() -> None:
        peak = max(peak_before, peak_memory_mb(device))
        state = Checkpoint(run.run_id, model.state_dict(), batches.state_dict(), rng_state(), ledger, flops, peak)
        save_checkpoint(run_dir / CHECKPOINT_NAME, state)

    every = _checkpoint_every(run, options)
    steps_at_start = ledger.steps
    model.train_mode()
    with TrainingProgress(budget, enabled=options.progress) as progress:
        while not ledger.exhausted(budget):
            start = time.perf_counter()
            raw, paired = next(batches)
            batch = _to_train_batch(raw, paired, dataset.info, device, model.ctx.channels_last)
            model.set_progress(ledger.fraction(budget))
            if ledger.steps == 0:
                losses, flops = count_flops(functools.partial(model.train_step, batch))
            else:
                losses = model.train_step(batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)  # so the metered time is the step's real time
            ledger.train_seconds += time.perf_counter() - start
            ledger.steps += 1
            ledger.images += batch.a.shape[0]
            _check_finite(losses, ledger.steps, run.spec.model)
            ledger.losses = dict(losses)
            progress.update(ledger)
            if on_step is not None:
                on_step(ledger)
            if ledger.steps % every == 0 and not ledger.exhausted(budget):
                save()
    if ledger.steps > steps_at_start or checkpoint is None:
        save()
    on_status(
        f"trained {ledger.steps} steps ({ledger.kimg:.3f} kimg) in {ledger.train_seconds:.1f} s"
    )
    return ledger, flops, max(peak_before, peak_memory_mb(device))


def _check_finite(losses: dict[str, float], step: int, model: str) -> None:
    for name, value in losses.items():
        if not math.isfinite(value):
            raise RunError(
                f"Loss {name!r} of model {model!r} became {value} at step {step}; training "
                "diverged and no result was recorded.",
                hint="Lower the learning rate (--model-arg lr=...) or change the seed.",
            )


def _evaluate(
    model: Model,
    direction: str,
    dataset: Dataset,
    run: ResolvedRun,
    device: torch.device,
    run_dir: Path,
    ledger: Ledger,
    metrics: dict[str, Metric],
) -> dict[str, tuple[float, MetricReport]]:
    """Score the model in one direction on the eval split: value and report per metric.

    The time spent is metered into ``ledger.eval_seconds``. The sample grid of the model's
    primary direction is ``samples.png``; other directions get ``samples-<direction>.png``.
    """
    start = time.perf_counter()
    info = dataset.info
    if direction not in ("a2b", "b2a", "a2b2a", "b2a2b"):
        raise RunError(f"Model {run.spec.model!r} asked to be evaluated in direction {direction!r}.")
    source_key: str = direction[0]
    target_key: str = source_key if is_cycle(direction) else direction[2]
    grid_name = "samples.png" if direction == model.direction else f"samples-{direction}.png"
    source_domain: DomainInfo = info.domain(source_key)  # type: ignore[arg-type]
    target_domain: DomainInfo = info.domain(target_key)  # type: ignore[arg-type]
    loader = DataLoader(dataset.split(run.spec.eval_split), batch_size=EVAL_BATCH_SIZE)
    for metric in metrics.values():
        metric.reset()
    model.eval_mode()
    generator = torch.Generator(device=device).manual_seed(run.spec.seed)
    first = True
    with torch.no_grad():
        for raw in loader:
            target = raw[target_key].to(device)
            source = raw[source_key].to(device)
            if model.task is Task.TRANSLATE:
                pred_unit = _translate(model, source_domain.to_unit(source), direction)
            else:
                pred_unit = model.sample(target.shape[0], generator)
            if pred_unit.shape != target.shape:
                raise RunError(
                    f"Model {run.spec.model!r} produced images of shape {tuple(pred_unit.shape)}, "
                    f"expected {tuple(target.shape)}."
                )
            pred = target_domain.from_unit(pred_unit.float())
            batch = EvalBatch(
                pred=pred,
                target=target,
                mask=raw[f"mask_{target_key}"].to(device),
                window=target_domain.window,
                paired=is_cycle(direction) or (info.paired and model.task is Task.TRANSLATE),
                domain=target_domain.name,
            )
            for metric in metrics.values():
                metric.update(batch)
            if first:
                save_sample_grid(
                    run_dir / grid_name,
                    [
                        (source_domain, source),
                        (target_domain, pred),
                        (target_domain, target),
                    ],
                )
                first = False
    if first:
        raise DataError(f"The {run.spec.eval_split!r} split is empty; nothing to evaluate.")
    results = {name: (metric.compute(), metric.report()) for name, metric in metrics.items()}
    ledger.eval_seconds += time.perf_counter() - start
    return results


def _translate(model: Model, source: torch.Tensor, direction: str) -> torch.Tensor:
    """One translation, or there and back for a cycle direction (``"a2b2a"``: a2b, then b2a)."""
    if not is_cycle(direction):
        return model.translate(source, direction)
    there, back = direction[:3], direction[2:]
    return model.translate(model.translate(source, there), back)


def _rows(
    run: ResolvedRun,
    dataset: Dataset,
    model: Model,
    metrics: dict[str, Metric],
    scored: dict[str, dict[str, tuple[float, MetricReport]]],
    ledger: Ledger,
    device: torch.device,
    settings: _Settings,
    flops: int,
    peak_memory: float,
) -> list[dict[str, Any]]:
    """One row per (evaluated direction, metric)."""
    spec = run.spec
    created = datetime.now(timezone.utc)
    common = {
        "run_id": run.run_id,
        "created_at": created,
        "model": spec.model,
        "model_version": run.model_version,
        "model_args": canonical_json(run.model_args),
        "dataset": spec.dataset,
        "dataset_version": run.dataset_version,
        "dataset_args": canonical_json(run.dataset_args),
        "dataset_fingerprint": dataset.fingerprint(),
        "image_size": spec.image_size,
        "eval_split": spec.eval_split,
        "seed": spec.seed,
        "budget_steps": spec.budget.steps,
        "budget_kimg": spec.budget.kimg,
        "budget_seconds": spec.budget.seconds,
        "steps_done": ledger.steps,
        "kimg_done": ledger.kimg,
        "train_seconds": ledger.train_seconds,
        "eval_seconds": ledger.eval_seconds,
        "peak_memory_mb": peak_memory,
        "device": device_name(device),
        "precision": settings.precision,
        "channels_last": settings.channels_last,
        "parameters": model.parameter_count(),
        "flops_per_step": flops,
        "medganbench_version": __version__,
        "status": "ok",
    }
    return [
        {
            **common,
            "direction": direction,
            "metric": name,
            "metric_version": run.metric_versions[name],
            "metric_convention": metric.convention,
            "metric_args": canonical_json(run.metric_args[name]),
            "metric_details": canonical_json(dict(by_name[name][1].details)),
            "value": by_name[name][0],
            "noise_floor": by_name[name][1].noise_floor,
            "weights": canonical_json(dict(by_name[name][1].weights)),
            "higher_is_better": metric.higher_is_better,
        }
        for direction, by_name in scored.items()
        for name, metric in metrics.items()
    ]
