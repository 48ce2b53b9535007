"""A compact text summary of a run folder (``medganbench show RUN_DIR``): what ran, where it
stands, and the last value of every curve of its history.

Works on any run folder: finished, still training, killed, or diverged (a run whose loss became
non-finite records no result, but keeps its history up to that step, and the summary names the
step). Everything read is treated as someone else's file: JSON is parsed, never executed, and the
history goes through :func:`~medganbench.run.history.read_history`'s checks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medganbench.core.history import HistoryRecord
from medganbench.errors import DataError, GeneratorFileError, UsageError
from medganbench.run.checkpoint import CHECKPOINT_NAME
from medganbench.run.generator_files import GENERATOR_WEIGHTS, has_generator, read_config
from medganbench.run.history import HISTORY_NAME, first_non_finite, last_values, read_history
from medganbench.run.record import RESULT_NAME
from medganbench.run.resume import SPEC_NAME

#: Whether higher values of a metric are better, by name (``None``: not known here).
HigherIsBetter = Callable[[str], bool | None]


def summarise(run_dir: Path, higher_is_better: HigherIsBetter = lambda name: None) -> list[str]:
    """The summary's lines.

    Raises:
        UsageError: ``run_dir`` is not a run folder (it has no ``spec.json``).
    """
    run_dir = Path(run_dir)
    spec = _json(run_dir / SPEC_NAME)
    if spec is None:
        raise UsageError(
            f"{run_dir} is not a run folder: it has no readable {SPEC_NAME}.",
            hint="Give runs/<run id>, the folder `medganbench run` printed.",
        )
    lines = [_headline(spec)]
    try:
        records = read_history(run_dir / HISTORY_NAME)
    except FileNotFoundError:
        records = []
        history_note = "no history (the run has not reached its first record yet)"
    except DataError as exc:
        records = []
        history_note = f"history unreadable: {exc.message}"
    else:
        steps = sorted({r.step for r in records})
        history_note = (
            f"history: {len(records)} records, steps {steps[0]}–{steps[-1]} ({HISTORY_NAME})"
            if steps
            else "history: empty"
        )
    lines.append(_status(run_dir, records))
    lines.append(history_note)
    lines += _generator(run_dir)
    lines += _losses(records)
    lines += _validation(records, higher_is_better)
    return lines


def _generator(run_dir: Path) -> list[str]:
    """Where the trained generator is (checked only when it is used: here its config is read)."""
    if not has_generator(run_dir):
        return []
    try:
        config = read_config(run_dir)
    except GeneratorFileError as exc:
        return [f"generator: unreadable ({exc.message})"]
    return [
        f"generator: step {config.selected_step} ({config.protocol}), {len(config.tensors)} "
        f"tensors, sha256 {config.weights_sha256[:12]}… ({GENERATOR_WEIGHTS}; use it with "
        "medganbench generate/translate/export)"
    ]


def _headline(spec: dict[str, Any]) -> str:
    given = spec.get("budget")
    budget: dict[str, Any] = given if isinstance(given, dict) else {}
    limits = ",".join(f"{k}={v}" for k, v in budget.items() if v is not None) or "?"
    select = spec.get("select", "final")
    every = spec.get("eval_every")
    watch = f", validated every {every} steps" if every else ""
    return (
        f"run {spec.get('run_id', '?')}: {spec.get('model', '?')} on {spec.get('dataset', '?')}, "
        f"budget {limits}, seed {spec.get('seed', '?')}, select {select}{watch}"
    )


def _status(run_dir: Path, records: Sequence[HistoryRecord]) -> str:
    result = _json(run_dir / RESULT_NAME)
    if result is not None:
        ledger = result.get("ledger", {}) if isinstance(result.get("ledger"), dict) else {}
        protocol = result.get("protocol", "final")
        step = result.get("selected_step", ledger.get("steps", "?"))
        return (
            f"status: finished, {ledger.get('steps', '?')} steps; scored step {step} "
            f"(protocol {protocol})"
        )
    diverged = first_non_finite(records)
    if diverged is not None:
        return (
            f"status: diverged at step {diverged.step} (loss {diverged.name!r} became "
            f"{diverged.value}); no result was recorded"
        )
    if (run_dir / CHECKPOINT_NAME).exists():
        last = max((r.step for r in records), default=0)
        return f"status: not finished (a checkpoint to resume from; history reaches step {last})"
    return "status: not finished (no checkpoint yet)"


def _losses(records: Sequence[HistoryRecord]) -> list[str]:
    last = [r for r in last_values(records).values() if r.kind == "loss"]
    if not last:
        return []
    step = max(r.step for r in last)
    shown = "  ".join(f"{r.name} {_number(r.value)}" for r in last if r.step == step)
    return [f"losses at step {step}: {shown}"]


def _validation(records: Sequence[HistoryRecord], higher_is_better: HigherIsBetter) -> list[str]:
    lines = []
    by_series: dict[str, list[HistoryRecord]] = {}
    for record in records:
        if record.kind == "val":
            by_series.setdefault(record.series, []).append(record)
    for series in by_series.values():
        last = series[-1]
        text = f"validation {last.direction} {last.name} at step {last.step}: {_number(last.value)}"
        higher = higher_is_better(last.name)
        finite = [r for r in series if math.isfinite(r.value)]
        if higher is not None and finite:
            # The earliest of equal values, as --select best: chooses.
            best = (max if higher else min)(finite, key=lambda r: r.value)
            text += f" (best {_number(best.value)} at step {best.step})"
        lines.append(text)
    return lines


def _number(value: float) -> str:
    return f"{value:.4g}"


def _json(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None
