"""Everything about resuming a run: its spec from the run folder, its checkpoint, restore order.

Both ``medganbench run --resume RUN_DIR`` and a sweep trial that finds a checkpoint go through
this module: :func:`spec_from_run_dir` rebuilds the spec recorded in ``spec.json`` (and checks
that the installed components still give the same run id), :func:`checkpoint_to_resume` reads
the run's checkpoint if it has one, and :func:`restore` puts the model, the data order and the
process RNGs back in the order that makes the resumed run equal the uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medganbench.core.manager import Registries
from medganbench.core.model import Model
from medganbench.errors import RunError, UsageError
from medganbench.run.batches import TrainBatches
from medganbench.run.budget import Budget
from medganbench.run.checkpoint import CHECKPOINT_NAME, Checkpoint, load_checkpoint, restore_rng
from medganbench.run.distributed import SINGLE, World
from medganbench.run.spec import RunSpec, resolve_run

#: The file in a run directory that records the run's spec and id.
SPEC_NAME = "spec.json"
#: The file in a run directory that records where the data were on this machine (the dataset's
#: location arguments); it stays in the local run folder.
LOCAL_NAME = "local.json"


def spec_from_identity(identity: Mapping[str, Any]) -> RunSpec:
    """Rebuild the :class:`RunSpec` of a run from its recorded
    :meth:`~medganbench.run.spec.ResolvedRun.identity`.

    The resolved arguments stand in for the given ones (resolving them again gives the same
    values), so the rebuilt spec has the same run id as long as the component versions are
    unchanged.

    Raises:
        UsageError: ``identity`` lacks a field or holds a malformed one.
    """
    try:
        return RunSpec(
            model=str(identity["model"]),
            dataset=str(identity["dataset"]),
            model_args=dict(identity["model_args"]),
            dataset_args=dict(identity["dataset_args"]),
            image_size=int(identity["image_size"]),
            metrics=tuple(identity["metrics"]),
            metric_args={k: dict(v) for k, v in identity.get("metric_args", {}).items()},
            budget=Budget(**identity["budget"]),
            seed=int(identity["seed"]),
            eval_split=str(identity["eval_split"]),
            precision=_precision(identity),
            channels_last=bool(identity["channels_last"]),
            allow_unverified_weights=bool(identity.get("allow_unverified_weights", False)),
            eval_grid=str(identity.get("eval_grid", "image_size")),
            select=str(identity.get("select", "final")),
            eval_every=_optional_int(identity.get("eval_every")),
            devices=_count(identity.get("devices", 1), "devices"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"The recorded run spec is incomplete or malformed ({exc!r}).") from None


def _optional_int(value: Any) -> int | None:
    """``None``, or ``value`` as a number of steps (see :func:`_count`)."""
    return None if value is None else _count(value, "steps")


def _count(value: Any, of: str) -> int:
    """``value`` as a recorded count ``of`` something (a bool or a non-integer is malformed)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a number of {of}")
    return value


def _precision(identity: Mapping[str, Any]) -> str:
    """The requested precision. A spec written before ``--precision`` existed has ``amp``
    instead; it is read as the nearest option so that the run-id check, not a parse error,
    explains why such a run cannot be resumed."""
    if "precision" in identity:
        return str(identity["precision"])
    return "fp32" if identity["amp"] is False else "auto"


def spec_from_run_dir(run_dir: Path, registries: Registries) -> tuple[RunSpec, Path]:
    """The spec recorded in ``run_dir`` and the runs directory holding it.

    Raises:
        UsageError: ``run_dir`` has no readable ``spec.json``, the installed components no longer
            give the recorded run id, or the directory is not named after its run id.
    """
    run_dir = Path(run_dir)
    try:
        recorded = json.loads((run_dir / SPEC_NAME).read_text())
    except FileNotFoundError:
        raise UsageError(
            f"{run_dir} is not a run directory: it has no {SPEC_NAME}.",
            hint="Resume from runs/<run id>, the directory `medganbench run` printed.",
        ) from None
    except ValueError as exc:
        raise UsageError(f"{run_dir / SPEC_NAME} is not valid JSON ({exc}).") from None
    if not isinstance(recorded, dict):
        raise UsageError(f"{run_dir / SPEC_NAME} does not hold a run spec.")
    spec = spec_from_identity(recorded)
    local = _read_local(run_dir)
    if local:
        spec = dataclasses.replace(spec, dataset_args={**spec.dataset_args, **local})
    run_id = resolve_run(spec, registries).run_id
    if run_id != recorded.get("run_id"):
        raise UsageError(
            f"Run {recorded.get('run_id')} was made with other component versions than the "
            f"installed ones (they now give run id {run_id}), so it cannot be resumed exactly.",
            hint="Install the medganbench version the run was started with, or start a new run.",
        )
    if run_dir.name != run_id:
        raise UsageError(
            f"{run_dir} holds run {run_id}; a run directory must be named after its run id.",
            hint=f"Rename it to {run_dir.parent / run_id}.",
        )
    return spec, run_dir.parent


def _read_local(run_dir: Path) -> dict[str, Any]:
    """The dataset location arguments kept in ``local.json``, or ``{}``.

    Raises:
        UsageError: the file exists but does not hold them.
    """
    path = run_dir / LOCAL_NAME
    if not path.exists():
        return {}
    try:
        local = json.loads(path.read_text())["dataset_location"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{path} is unreadable ({exc!r}).",
            hint="Delete it, and pass the data's location again.",
        ) from None
    if not isinstance(local, dict) or not all(
        isinstance(v, (str, int, float, bool)) for v in local.values()
    ):
        raise UsageError(f"{path} does not hold dataset location arguments.")
    return local


def checkpoint_to_resume(run_dir: Path, run_id: str) -> Checkpoint | None:
    """The checkpoint of run ``run_id`` in ``run_dir``, or ``None`` if it has none yet.

    Raises:
        RunError: the checkpoint is unreadable, of another layout, or of another run.
    """
    path = Path(run_dir) / CHECKPOINT_NAME
    return load_checkpoint(path, run_id) if path.exists() else None


def restore(
    checkpoint: Checkpoint, model: Model, batches: TrainBatches, world: World = SINGLE
) -> None:
    """Put the model, the data order and the process RNGs back to ``checkpoint`` (this
    process's part of it, on several devices).

    The RNGs come last, so that nothing done while rebuilding the run (building the model,
    replaying the data order) moves an RNG off its checkpointed state.

    Raises:
        RunError: the checkpoint was written by another number of devices.
    """
    if checkpoint.world_size != world.size:
        raise RunError(
            f"The checkpoint of run {checkpoint.run_id} was written by {checkpoint.world_size} "
            f"device(s); this run has {world.size}. A run continues exactly only on the number "
            "of devices it started on.",
            hint=f"Resume it with --devices {checkpoint.world_size}.",
        )
    state = checkpoint.for_rank(world.rank)
    model.load_state_dict(state["model"])
    batches.load_state_dict(state["data_order"])
    restore_rng(state["rng"])
