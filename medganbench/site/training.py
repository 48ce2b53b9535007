"""Training curves on the site's pages: a run page's "Training" section (its losses, its
validation values with the scored checkpoint marked) and a comparable group's overlay of its
runs' validation values (:func:`group_curves`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.seeds import AggregatedGroup
from medganbench.site.curves import MAX_POINTS, Curve, StepMark, step_chart
from medganbench.site.history import MAX_CURVES, RunHistory
from medganbench.site.html import esc

__all__ = ["MAX_OVERLAID", "Selection", "group_curves", "selections", "training_section"]

#: The most runs one overlay chart of a group draws (the first ones in the table's order).
MAX_OVERLAID = 16
_SAMPLED = f"curves longer than {MAX_POINTS} points keep each stretch's lowest and highest value"


@dataclass(frozen=True)
class Selection:
    """Which checkpoint of a run was scored: the row's ``protocol`` (``"final"`` or
    ``"best:METRIC@val"``) and ``selected_step``."""

    protocol: str
    step: int

    @property
    def label(self) -> str:
        """The mark's text on a validation curve: ``"selected (best:psnr@val)"``."""
        return f"selected ({self.protocol})"


def selections(rows: Sequence[Mapping[str, Any]]) -> dict[str, Selection]:
    """Each direction's :class:`Selection`, from a run's leaderboard rows (schema v5)."""
    return {r["direction"]: Selection(r["protocol"], r["selected_step"]) for r in rows}


def _better(rows: Sequence[Mapping[str, Any]], metric: str) -> str:
    """Which way ``metric`` is better, as the run's rows say; ``""`` for a metric it was not
    scored on (a history may validate on more metrics than the rows hold)."""
    higher = {r["higher_is_better"] for r in rows if r["metric"] == metric}
    if len(higher) != 1:
        return ""
    return "higher is better" if higher.pop() else "lower is better"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def training_section(
    history: RunHistory | None, rows: Sequence[Mapping[str, Any]], naming: Naming = PLAIN
) -> str:
    """A run page's "Training" section; ``""`` for a run without a history file or with an
    empty one.

    Args:
        history: what :func:`~medganbench.site.history.load_history` gave for the run.
        rows: the run's leaderboard rows, its own direction first (their protocol, selected
            step, directions and metrics' better direction).
        naming: names the directions by modality.
    """
    if history is None or history == RunHistory():
        return ""  # no file, or an empty one (a model that learns nothing reports no loss)
    head = '<section class="training"><h2>Training</h2>'
    if history.unreadable:
        return (
            head + '<p class="muted history-unreadable">History unreadable: the run folder\'s '
            "history.arrow is not a readable medganbench history file, so no training curves "
            "are shown.</p></section>"
        )
    chosen = selections(rows)
    primary = chosen[rows[0]["direction"]]
    parts = [
        head,
        f"<p>Scored checkpoint: step {primary.step:,} of {rows[0]['steps_done']:,} (protocol "
        f"<code>{esc(primary.protocol)}</code>), marked on the validation curves.</p>",
    ]
    figures = []
    if history.losses:
        marks = []
        note = ""
        if history.diverged_at is not None:
            marks.append(StepMark(history.diverged_at, "diverged", "diverged"))
            note = (
                f" Training diverged at step {history.diverged_at:,}: a loss became NaN or "
                "infinite; each curve ends at its last finite value."
            )
        figures.append(
            _figure(
                step_chart(
                    history.losses,
                    title="Training losses against step",
                    y_label="loss",
                    desc="One line per loss the model reported while training.",
                    marks=marks,
                ),
                f"Training losses, one line per loss; {_SAMPLED}.{note}",
            )
        )
    for val in history.val:
        selection = chosen.get(val.direction, primary)
        direction = naming.row_direction({**rows[0], "direction": val.direction})
        better = _better(rows, val.metric)
        title = f"Validation {val.metric} against step — {direction}"
        figures.append(
            _figure(
                step_chart(
                    [val.curve],
                    title=title,
                    y_label=f"{val.metric} ({better})" if better else val.metric,
                    desc=f"{val.metric} on the validation split, evaluated while training; the "
                    f"dashed line is the checkpoint that was scored ({selection.protocol}).",
                    marks=[StepMark(selection.step, selection.label, "selected")],
                ),
                f"{title}; dashed: the scored checkpoint, step {selection.step:,} "
                f"({selection.protocol}).",
            )
        )
    parts.append(f'<div class="curves-grid">{"".join(figures)}</div>')
    if history.left_out:
        parts.append(
            f'<p class="muted">{history.left_out} more curve(s) not drawn (at most '
            f"{MAX_CURVES} losses and {MAX_CURVES} validation curves per run).</p>"
        )
    return "".join(parts) + "</section>"


def group_curves(group: AggregatedGroup, histories: Mapping[str, RunHistory]) -> str:
    """A group's runs' validation values against step, one chart per metric of the group that
    some run has validation values of, in a collapsed ``<details>``; ``""`` where none has."""
    direction = group.key["direction"]
    runs = [
        (entry.model, seed, run_id)
        for entry in group.entries
        for seed, run_id in zip(entry.seeds, entry.run_ids, strict=True)
    ]
    better = {c.metric: c.higher_is_better for c in group.metrics}
    figures = []
    overlaid = 0
    for metric in better:
        curves = []
        for model, seed, run_id in runs:
            history = histories.get(run_id)
            curve = history.val_curve(direction, metric) if history is not None else None
            if curve is not None and curve.points:
                curves.append(Curve(f"{model} s{seed} {run_id[:8]}", curve.points))
        if not curves:
            continue
        overlaid = max(overlaid, len(curves))
        shown = (
            f"the first {MAX_OVERLAID} of {len(curves)} runs"
            if len(curves) > MAX_OVERLAID
            else f"{len(curves)} run(s)"
        )
        title = f"Validation {metric} against step"
        way = "higher is better" if better[metric] else "lower is better"
        figures.append(
            _figure(
                step_chart(
                    curves[:MAX_OVERLAID],
                    title=title,
                    y_label=f"{metric} ({way})",
                    desc=f"{metric} on the validation split while training, one line per run.",
                ),
                f"{title}, {shown} of this group; one line per run.",
            )
        )
    if not figures:
        return ""
    return (
        f'<details class="overlay"><summary>Validation metrics against step ({overlaid} '
        f'run(s) with validation values)</summary><div class="curves-grid">{"".join(figures)}'
        "</div></details>"
    )
