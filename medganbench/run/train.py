"""Phase 2 of a run: train one step at a time until the first budget limit, checkpointing.

Only the batch fetch and the model's step are metered against the budget; checkpoints, progress
display and the caller's ``on_step`` are outside the metered time.

On a GPU the loop does not wait for the device after every step: a model's losses may stay on
the device (0-dim tensors), and they are read, and checked for NaN, every
:func:`loss_read_every` steps, at checkpoints and at the end; the metered time of the steps
between two reads includes the wait at the read. Batches are copied from pinned memory without
blocking, so the next batch is prepared while the device still computes.

On several devices (:mod:`medganbench.run.distributed`) each process steps its model copy on
its share of the global batch, with gradients averaged (:mod:`medganbench.run.replicas`); the
ledger counts global images, the step losses read are the means over the processes, and a
seconds budget ends for all at once (the slowest process's time). Only process 0 records the
history, validates and writes checkpoints, which hold every process's state.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from medganbench import interrupts, progress
from medganbench.core.dataset import DatasetInfo, DomainInfo, Sample
from medganbench.core.model import TrainBatch
from medganbench.errors import RunError
from medganbench.run.batches import TrainBatches
from medganbench.run.budget import Budget, Ledger
from medganbench.run.checkpoint import CHECKPOINT_NAME, Checkpoint, rng_state, save_checkpoint
from medganbench.run.device import peak_memory_mb, reset_peak_memory
from medganbench.run.flops import count_flops
from medganbench.run.memory import out_of_memory_is_an_error
from medganbench.run.prepare import PreparedRun, StatusSink
from medganbench.run.replicas import Replicas, has_batch_norm, sync_batch_norm
from medganbench.run.resume import restore
from medganbench.run.trackers import TrackerSet
from medganbench.run.trained import TrainedRun
from medganbench.run.watch import StepLossValues, Watch

#: Steps between checkpoints of a run without a step budget (and without --checkpoint-every).
DEFAULT_CHECKPOINT_EVERY = 500

#: Steps between reads of the losses on a GPU (each read waits for the device).
CUDA_LOSS_READ_EVERY = 25

#: One step's losses as the model returned them (floats, or 0-dim tensors on its device).
StepLosses = Mapping[str, float | torch.Tensor]


@dataclass(frozen=True)
class PendingStep:
    """A step whose losses have not been read from the device yet, and where it stood."""

    step: int
    kimg: float
    seconds: float
    losses: StepLosses


def train(
    prepared: PreparedRun,
    on_status: StatusSink = lambda message: None,
    on_step: Callable[[Ledger], None] | None = None,
    watch: Watch | None = None,
) -> TrainedRun:
    """Step the model until the first budget limit; checkpoint periodically and at the end.

    Args:
        prepared: from :func:`~medganbench.run.prepare.prepare`; its checkpoint, if any, is
            restored first.
        on_status: receives one-line status messages.
        on_step: called with the ledger after every step (sweeps report progress with it).
        watch: records the history, validates and keeps the best checkpoint (see
            :mod:`~medganbench.run.watch`); ``None`` = one with no trackers and the default
            ``--log-every``.

    Raises:
        RunError: a loss became non-finite (the history up to that step is written first), or
            ``--select best:`` found no finite validation value.
        OutOfMemory: a step ran out of memory.
    """
    reset_peak_memory(prepared.device)
    if watch is None:
        watch = Watch(prepared, TrackerSet(), prepared.checkpoint, on_status=on_status)
    with (
        _determinism(prepared.options.deterministic),
        out_of_memory_is_an_error(prepared.spec.model, "while it trained"),
    ):
        return _train(prepared, on_status, on_step, watch)


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


def training_detail(ledger: Ledger, budget: Budget) -> str:
    """The share of the budget used, the latest losses and the time left to the budget
    (extrapolated from the training time so far)."""
    fraction = ledger.fraction(budget)
    losses = "  ".join(f"{k} {v:.4g}" for k, v in ledger.losses.items())
    left = (
        f", ~{ledger.train_seconds * (1.0 - fraction) / fraction:.0f} s to budget"
        if 0 < fraction < 1
        else ""
    )
    return f"{fraction:.0%} of budget{left}" + (f"  {losses}" if losses else "")


def checkpoint_every(prepared: PreparedRun) -> int:
    """Steps between checkpoints: ``--checkpoint-every``, else a quarter of a step budget."""
    if prepared.options.checkpoint_every is not None:
        return max(1, prepared.options.checkpoint_every)
    steps = prepared.spec.budget.steps
    return max(1, steps // 4) if steps is not None else DEFAULT_CHECKPOINT_EVERY


def loss_read_every(device: torch.device, budget: Budget) -> int:
    """Steps between reads of the losses (and of the wait for the device).

    Every step on the CPU, where a read costs nothing, and under a seconds budget, whose limit
    must see each step's real time; :data:`CUDA_LOSS_READ_EVERY` on a GPU otherwise.
    """
    if device.type == "cpu" or budget.seconds is not None:
        return 1
    return CUDA_LOSS_READ_EVERY


def read_losses(
    pending: list[PendingStep], replicas: Replicas | None = None
) -> list[StepLossValues]:
    """Every pending step's losses as floats, in step order; ``pending`` is emptied.

    All tensors are copied to the host in one transfer. With ``replicas`` (several devices),
    every value is the mean over the processes, so all processes read the same losses, those
    of the global batch. Nothing is checked here: the caller records the values first (a
    diverged run keeps its history), then calls :func:`check_finite`.
    """
    if replicas is not None:
        return _shared_losses(pending, replicas)
    tensors = [v for p in pending for v in p.losses.values() if isinstance(v, torch.Tensor)]
    read = iter(
        torch.stack([t.detach().reshape(()).float().to(tensors[0].device) for t in tensors])
        .cpu()
        .tolist()
        if tensors
        else []
    )
    values = [
        StepLossValues(
            p.step,
            p.kimg,
            p.seconds,
            {
                k: next(read) if isinstance(v, torch.Tensor) else float(v)
                for k, v in p.losses.items()
            },
        )
        for p in pending
    ]
    pending.clear()
    return values


def _shared_losses(pending: list[PendingStep], replicas: Replicas) -> list[StepLossValues]:
    """:func:`read_losses` on several devices: every value the mean over the processes, all
    pending steps in one all-reduce; ``pending`` is emptied."""
    flat = [
        torch.as_tensor(v, dtype=torch.float64).detach().reshape(()).to(replicas.device)
        for p in pending
        for v in p.losses.values()
    ]
    read = iter(replicas.mean(torch.stack(flat)).tolist() if flat else [])
    values = [
        StepLossValues(p.step, p.kimg, p.seconds, {k: next(read) for k in p.losses})
        for p in pending
    ]
    pending.clear()
    return values


def check_finite(steps: list[StepLossValues], model: str) -> None:
    """Refuse the first non-finite loss of ``steps``.

    Raises:
        RunError: naming the loss, its value and the step.
    """
    for read in steps:
        _check_finite(dict(read.values), read.step, model)


def _train(
    prepared: PreparedRun,
    on_status: StatusSink,
    on_step: Callable[[Ledger], None] | None,
    watch: Watch,
) -> TrainedRun:
    model, device, budget = prepared.model, prepared.device, prepared.spec.budget
    world = prepared.world
    batches = TrainBatches(
        prepared.dataset.split("train"),
        prepared.batch.total,
        prepared.spec.seed,
        unpaired=type(model).unpaired_training,
        paired_data=prepared.dataset.info.paired,
        world=world,
    )
    ledger, flops, peak_before = Ledger(), 0, 0.0
    checkpoint = prepared.checkpoint
    resumed_from = None
    if checkpoint is not None:
        restore(checkpoint, model, batches, world)
        # A copy: the checkpoint keeps saying where training resumed from.
        ledger = dataclasses.replace(checkpoint.ledger, losses=dict(checkpoint.ledger.losses))
        flops, peak_before = checkpoint.flops_per_step, checkpoint.peak_memory_mb
        resumed_from = checkpoint.ledger.steps
    replicas = join_replicas(prepared, on_status) if world.distributed else None

    def save() -> None:
        peak = max(peak_before, peak_memory_mb(device))
        own = {"model": model.state_dict(), "data_order": batches.state_dict(), "rng": rng_state()}
        others = replicas.other_states(own) if replicas is not None else ()
        if others is None:  # not process 0: it only sent its state
            return
        state = Checkpoint(
            prepared.run_id,
            own["model"],
            own["data_order"],
            own["rng"],
            ledger,
            flops,
            peak,
            watch.state(),
            world.size,
            others,
        )
        save_checkpoint(prepared.run_dir / CHECKPOINT_NAME, state)
        watch.flush()

    every = checkpoint_every(prepared)
    reads = loss_read_every(device, budget)
    pending: list[PendingStep] = []
    steps_at_start = ledger.steps
    model.train_mode()
    with progress.phase(f"training ({budget})", total=budget.steps, unit="steps") as shown:
        shown.done = ledger.steps  # a resumed run continues its count
        while not ledger.exhausted(budget):
            interrupts.check()  # a Ctrl-C dropped somewhere inside the last step stops here
            start = time.perf_counter()
            raw, paired = next(batches)
            batch = to_train_batch(
                raw, paired, prepared.dataset.info, device, model.ctx.channels_last
            )
            model.set_progress(ledger.fraction(budget))
            losses: StepLosses
            if ledger.steps == 0:
                losses, flops = count_flops(functools.partial(model.train_step, batch))
                flops *= world.size  # the FLOPs of one step of the global batch
            else:
                losses = model.train_step(batch)
            ledger.steps += 1
            ledger.images += batch.a.shape[0] * world.size
            # A step or kimg limit is exact here; a seconds budget reads after every step.
            read = ledger.steps % reads == 0 or ledger.steps % every == 0
            if read or ledger.exhausted(budget):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)  # the metered time is the steps' real time
                ledger.train_seconds += time.perf_counter() - start
                if replicas is not None and budget.seconds is not None:
                    ledger.train_seconds = replicas.largest(ledger.train_seconds)
                pending.append(PendingStep(ledger.steps, ledger.kimg, ledger.train_seconds, losses))
                steps = read_losses(pending, replicas)
                if world.main:
                    watch.losses(steps, last=ledger.exhausted(budget))
                try:
                    check_finite(steps, prepared.spec.model)
                except RunError:
                    if world.main:
                        watch.flush()  # the history up to the diverged step is kept
                    raise
                ledger.losses = dict(steps[-1].values)
            else:
                # On a GPU without a read, the seconds so far are the host's time.
                ledger.train_seconds += time.perf_counter() - start
                pending.append(PendingStep(ledger.steps, ledger.kimg, ledger.train_seconds, losses))
            shown.advance(detail=training_detail(ledger, budget))
            if on_step is not None:
                on_step(ledger)
            if world.main:
                watch.after_step(ledger)
            if ledger.steps % every == 0 and not ledger.exhausted(budget):
                save()
    # Before the final checkpoint, so that it holds the last validation too.
    if world.main:
        watch.validate_last(ledger)
    if ledger.steps > steps_at_start or checkpoint is None:
        save()
    if replicas is not None:
        replicas.stop_averaging()  # evaluation is process 0's alone
    on_status(
        f"trained {ledger.steps} steps ({ledger.kimg:.3f} kimg{_volumes_note(prepared, ledger)})"
        f" in {ledger.train_seconds:.1f} s"
    )
    selected = watch.finish(ledger) if world.main else None
    return TrainedRun(
        ledger, flops, max(peak_before, peak_memory_mb(device)), resumed_from, selected
    )


def _volumes_note(prepared: PreparedRun, ledger: Ledger) -> str:
    """``": 80 volumes"`` on a volume dataset: its budget's images are volumes."""
    return f": {ledger.images} volumes" if prepared.dataset.info.volume is not None else ""


def join_replicas(prepared: PreparedRun, on_status: StatusSink) -> Replicas:
    """Make this process's model copy one with the others': process 0's weights, synchronised
    batch norm on GPUs (where the model declares it), gradients averaged from now on."""
    model, device = prepared.model, prepared.device
    modules = model.trained_modules()
    if type(model).sync_batch_norm and has_batch_norm(modules):
        if device.type == "cuda":
            sync_batch_norm(modules)
        elif prepared.world.main:
            on_status(
                "batch norm is not synchronised between CPU processes (torch has no CPU "
                "SyncBatchNorm): each process normalises over its own share of the batch"
            )
    replicas = Replicas(prepared.world, device)
    replicas.broadcast(modules)
    replicas.average_gradients(modules)
    return replicas


def to_train_batch(
    raw: Sample, paired: bool, info: DatasetInfo, device: torch.device, channels_last: bool
) -> TrainBatch:
    """A dataset sample on ``device``, images mapped from physical units to [-1, 1].

    On CUDA the tensors are pinned and copied without blocking the host.
    """
    cuda = device.type == "cuda"

    def fmt(x: torch.Tensor) -> torch.memory_format:
        if not channels_last:
            return torch.contiguous_format
        return torch.channels_last_3d if x.dim() == 5 else torch.channels_last

    def moved(x: torch.Tensor) -> torch.Tensor:
        return (x.pin_memory() if cuda else x).to(device, non_blocking=cuda)

    def image(x: torch.Tensor, domain: DomainInfo) -> torch.Tensor:
        return domain.to_unit(moved(x)).contiguous(memory_format=fmt(x))

    return TrainBatch(
        a=image(raw["a"], info.a),
        b=image(raw["b"], info.b),
        mask_a=moved(raw["mask_a"]),
        mask_b=moved(raw["mask_b"]),
        paired=paired,
    )


def _check_finite(losses: dict[str, float], step: int, model: str) -> None:
    for name, value in losses.items():
        if not math.isfinite(value):
            raise RunError(
                f"Loss {name!r} of model {model!r} became {value} at step {step}; training "
                "diverged and no result was recorded.",
                hint="Lower the learning rate (--model-arg lr=...) or change the seed.",
            )
