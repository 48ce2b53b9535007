"""Training checkpoints that resume a run exactly.

A checkpoint holds everything the rest of the run depends on: the model's own state (weights,
optimisers, history pools, private RNGs — whatever :meth:`Model.state_dict` returns), the
process-wide RNG states (Python, NumPy, torch CPU and every CUDA device), the position in the
data order, the budget ledger, and what was measured once (FLOPs per step, peak memory so far).
It is written atomically, so a run killed at any moment — SIGKILL included — leaves either the
previous checkpoint or the new one, and :func:`load_checkpoint` refuses a file that belongs to
another run.

A run on several devices (:mod:`medganbench.run.distributed`) writes one checkpoint too,
from process 0: its own state in the usual fields, and every other process's model state,
data position and RNG states in ``ranks`` (gathered over the process group), so that each
process continues from exactly where it stood.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medganbench import __version__
from medganbench.errors import RunError, unsafe_load_reason
from medganbench.fileio import atomic_write
from medganbench.run.budget import Ledger

CHECKPOINT_NAME = "checkpoint.pt"
#: Bumped when the checkpoint layout changes; files of other layouts are refused with a clear
#: message, except :data:`READABLE_FORMATS`.
CHECKPOINT_FORMAT = 4
#: Layouts this version resumes: 3 is 4 without ``world_size`` and ``ranks`` (one device).
READABLE_FORMATS = (3, 4)
#: What each further process's entry of ``ranks`` holds.
_RANK_KEYS = frozenset({"model", "data_order", "rng"})


def rng_state() -> dict[str, Any]:
    """The states of every process-wide RNG a model may draw from, as tensors and plain values.

    Plain types only, so that a checkpoint reads back with ``torch.load(weights_only=True)``,
    which cannot run code: NumPy's key array becomes a tensor, its other fields numbers.
    """
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "python": [version, list(internal), gauss],
        "numpy": [
            str(kind),
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ],  # fmt: skip
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Set every process-wide RNG back to :func:`rng_state`'s result."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        run_id: the run it belongs to.
        model: :meth:`Model.state_dict` at the checkpoint.
        data_order: the training batches' state (:meth:`TrainBatches.state_dict`).
        rng: :func:`rng_state` at the checkpoint.
        ledger: steps, images and training seconds used so far.
        flops_per_step: measured on the run's first step.
        peak_memory_mb: the largest peak memory seen by any process that trained this run.
        watch: what :class:`~medganbench.run.watch.Watch` needs to continue exactly: the
            history so far, the best validation value and the last validated step (plain
            values; ``{}`` in checkpoints written before the history existed).
    """

    run_id: str
    model: dict[str, Any]
    data_order: dict[str, Any]
    rng: dict[str, Any]
    ledger: Ledger
    flops_per_step: int
    peak_memory_mb: float
    watch: dict[str, Any] = field(default_factory=dict)
    world_size: int = 1
    ranks: tuple[dict[str, Any], ...] = ()

    def for_rank(self, rank: int) -> dict[str, Any]:
        """Process ``rank``'s ``{"model", "data_order", "rng"}``."""
        if rank == 0:
            return {"model": self.model, "data_order": self.data_order, "rng": self.rng}
        return self.ranks[rank - 1]


def prune_checkpoint(run_dir: Path) -> None:
    """Delete a recorded run's checkpoint: its rows are on the leaderboard, and nothing else
    reads it (``--keep-checkpoint`` keeps it). A checkpoint that cannot be deleted stays."""
    with contextlib.suppress(OSError):
        (Path(run_dir) / CHECKPOINT_NAME).unlink(missing_ok=True)


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "medganbench_version": __version__,
        "run_id": checkpoint.run_id,
        "model": checkpoint.model,
        "data_order": checkpoint.data_order,
        "rng": checkpoint.rng,
        "ledger": {
            "steps": checkpoint.ledger.steps,
            "images": checkpoint.ledger.images,
            "train_seconds": checkpoint.ledger.train_seconds,
            "eval_seconds": checkpoint.ledger.eval_seconds,
            "losses": dict(checkpoint.ledger.losses),
        },
        "flops_per_step": checkpoint.flops_per_step,
        "peak_memory_mb": checkpoint.peak_memory_mb,
        "watch": checkpoint.watch,
        "world_size": checkpoint.world_size,
        "ranks": list(checkpoint.ranks),
    }
    atomic_write(path, lambda sink: torch.save(state, sink))


def load_checkpoint(path: Path, run_id: str) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` for run ``run_id``.

    Raises:
        RunError: the file is unreadable, of another layout, or belongs to another run.
    """
    try:
        # weights_only: the file may come from a shared runs folder, so it is read with the
        # loader that builds tensors and plain containers only and never runs code.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise RunError(
            f"Cannot read the checkpoint {path}: it is not a checkpoint this program can read "
            f"safely ({unsafe_load_reason(exc)}). It was not used, and nothing in it was run.",
            hint="Delete it to start the run from step 0.",
        ) from None
    if not isinstance(state, dict) or state.get("format") not in READABLE_FORMATS:
        raise RunError(
            f"{path} is not a resumable checkpoint of this medganbench "
            f"(layout {state.get('format') if isinstance(state, dict) else '?'}, "
            f"expected {CHECKPOINT_FORMAT}).",
            hint="Delete it to start the run from step 0.",
        )
    if state["run_id"] != run_id:
        raise RunError(
            f"{path} belongs to run {state['run_id']}, not to run {run_id}.",
            hint="Resume each run from its own directory, runs/<run id>.",
        )
    saved = state["ledger"]
    ledger = Ledger(
        steps=saved["steps"],
        images=saved["images"],
        train_seconds=saved["train_seconds"],
        eval_seconds=float(saved.get("eval_seconds", 0.0)),
        losses=dict(saved["losses"]),
    )
    watch = state.get("watch", {})
    world_size, ranks = state.get("world_size", 1), state.get("ranks", [])
    if (
        not isinstance(world_size, int)
        or not isinstance(ranks, list)
        or len(ranks) != world_size - 1
        or not all(isinstance(r, dict) and r.keys() >= _RANK_KEYS for r in ranks)
    ):
        raise RunError(
            f"{path} is not a resumable checkpoint: its per-device states are malformed.",
            hint="Delete it to start the run from step 0.",
        )
    return Checkpoint(
        run_id=run_id,
        model=state["model"],
        data_order=state["data_order"],
        rng=state["rng"],
        ledger=ledger,
        flops_per_step=int(state["flops_per_step"]),
        peak_memory_mb=float(state["peak_memory_mb"]),
        watch=watch if isinstance(watch, dict) else {},
        world_size=world_size,
        ranks=tuple(ranks),
    )
