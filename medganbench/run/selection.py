"""The best-checkpoint protocol (``--select best:METRIC``): which validation value is best, and
the file that keeps the weights that gave it.

``runs/<run id>/best.pt`` holds the model's state (:meth:`~medganbench.core.model.Model.state_dict`)
at the step with the best validation value so far, with that step and value. It is replaced,
atomically, each time a validation beats it (a tie keeps the earlier step: the choice never
waits for a later, equal value), read back with ``torch.load(weights_only=True)`` (no code runs),
and refused if it belongs to another run. Like the final checkpoint, it is deleted once the run's
rows are recorded unless ``--keep-checkpoint`` is given.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medganbench.errors import RunError, unsafe_load_reason
from medganbench.fileio import atomic_write

#: The best-weights file in a run folder.
BEST_NAME = "best.pt"
# Bumped when the file's layout changes; other layouts are refused.
_FORMAT = 1


@dataclass(frozen=True)
class Best:
    """The best validation value so far and the step that gave it."""

    step: int
    value: float

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "value": self.value}


def improves(value: float, best: Best | None, higher_is_better: bool) -> bool:
    """Whether ``value`` is strictly better than ``best`` (a NaN never is; anything finite beats
    no best yet)."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best.value if higher_is_better else value < best.value


def save_best(run_dir: Path, run_id: str, best: Best, model_state: dict[str, Any]) -> None:
    """Write the weights of ``best.step`` to ``run_dir / BEST_NAME`` atomically."""
    state = {
        "format": _FORMAT,
        "run_id": run_id,
        "step": best.step,
        "value": best.value,
        "model": model_state,
    }
    atomic_write(Path(run_dir) / BEST_NAME, lambda sink: torch.save(state, sink))


def load_best(run_dir: Path, run_id: str, best: Best) -> dict[str, Any]:
    """The model state saved for ``best`` by :func:`save_best`.

    Raises:
        RunError: the file is missing, unreadable, of another layout or run, or of another step.
    """
    path = Path(run_dir) / BEST_NAME
    hint = "Delete the run folder's checkpoint and best.pt to train the run again from step 0."
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunError(
            f"The best checkpoint {path} (step {best.step}) is gone; the run cannot score it.",
            hint=hint,
        ) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise RunError(
            f"Cannot read the best checkpoint {path} safely ({unsafe_load_reason(exc)}); nothing "
            "in it was run.",
            hint=hint,
        ) from None
    if (
        not isinstance(state, dict)
        or state.get("format") != _FORMAT
        or state.get("run_id") != run_id
        or state.get("step") != best.step
        or not isinstance(state.get("model"), dict)
    ):
        raise RunError(
            f"{path} does not hold run {run_id}'s best weights of step {best.step}.", hint=hint
        )
    model_state: dict[str, Any] = state["model"]
    return model_state


def prune_best(run_dir: Path) -> None:
    """Delete a recorded run's best weights (see the module); a file that cannot go stays."""
    with contextlib.suppress(OSError):
        (Path(run_dir) / BEST_NAME).unlink(missing_ok=True)
