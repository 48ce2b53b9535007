"""The cells of ranked leaderboard groups, and their markdown export; the terminal's rich tables
(:mod:`~medganbench.leaderboard.terminal`) are built from the same cells.

Two views of the same groups share the cell formatting here, so the terminal and the markdown
export always agree:

* the aggregated view (default): one row per model configuration, merged over seeds by
  :mod:`medganbench.leaderboard.seeds`, with mean ± std and the bootstrap interval;
* the per-run view (``--runs``): one row per run, as
  :func:`~medganbench.leaderboard.ranking.ranked_groups` returns them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import pyarrow as pa

from medganbench.leaderboard.columns import format_args
from medganbench.leaderboard.devices import Replicates, short_device
from medganbench.leaderboard.naming import DEFAULTS_TEXT, PLAIN, Naming
from medganbench.leaderboard.numbers import (
    ROUNDING_RULE,
    format_estimate,
    format_spread,
    format_value,
)
from medganbench.leaderboard.ranking import RankedGroup, interval_rule, ranked_groups
from medganbench.leaderboard.seeds import (
    AggregatedGroup,
    SeedAggregate,
    SeedSummary,
    aggregate_groups,
)
from medganbench.leaderboard.titles import EXTERNAL_HEADING, group_title, is_external

#: An empty cell.
EMPTY = "—"
# Beyond this many runs the run-id cell shows a count: a dozen ids would swamp the table, and
# the full list is one `seed_table(...)` away.
_MAX_RUN_IDS_SHOWN = 4
_AnyGroup: TypeAlias = RankedGroup | AggregatedGroup


def devices_cell(devices: Sequence[str], replicated_runs: int = 0) -> str:
    """The devices in their short form (:func:`~medganbench.leaderboard.devices.short_device`),
    with how many runs were replicated on several of them."""
    text = ", ".join(dict.fromkeys(short_device(d) for d in devices))
    if replicated_runs:
        text += f" ({replicated_runs} run(s) replicated across devices)"
    return text


def replicate_note(spread: Replicates | None) -> str:
    """``" [21.07–21.17 on 2 devices]"``: the range of a run's replicates, where it has some."""
    if spread is None:
        return ""
    return f" [{format_value(spread.low)}–{format_value(spread.high)} on {spread.n} devices]"


def _with_floor(text: str, floor: float | None, size: str | None = None) -> str:
    """``text`` with the noise floor and the sample size (real/generated) it was scored on."""
    notes = ([f"floor {format_value(floor)}"] if floor is not None else []) + (
        [f"N {size}"] if size else []
    )
    return text + (f" ({'; '.join(notes)})" if notes else "")


# ------------------------------------------------------------------------------- per-run view


#: The column of the model's seconds per evaluated image (schema v7's ``eval_seconds_per_image``).
COST_HEADER = "eval s/img"


def cost_cell(seconds: float | None) -> str:
    """Seconds per evaluated image to 3 significant figures; a dash where not measured."""
    return EMPTY if seconds is None else f"{seconds:.3g}"


def _run_cells(group: RankedGroup, naming: Naming) -> tuple[list[str], list[list[str]]]:
    """Headers and string cells of one group, one row per run."""
    headers = (
        ["rank", "model", "args", "seed"]
        + [c.label for c in group.metrics]
        + ["steps", "train s", COST_HEADER, "device", "run id"]
    )
    cells = []
    for row in group.rows:
        floors = row.noise_floors or (None,) * len(row.values)
        sizes = row.sample_sizes or (None,) * len(row.values)
        spreads = row.replicates or (None,) * len(row.values)
        cells.append(
            [
                EMPTY if row.rank is None else str(row.rank),
                f"{row.model} v{row.model_version}",
                args_text(
                    row.model,
                    row.model_version,
                    row.model_args,
                    row.precision,
                    naming,
                    row.world_size,
                ),
                str(row.seed),
                *(
                    _with_floor(format_value(v) + replicate_note(r), f, n)
                    for v, f, n, r in zip(row.values, floors, sizes, spreads, strict=True)
                ),
                str(row.steps_done),
                f"{row.train_seconds:.1f}",
                cost_cell(row.eval_seconds_per_image),
                devices_cell(row.devices or (row.device,)),
                row.run_id[:8],
            ]
        )
    return headers, cells


# ---------------------------------------------------------------------------- aggregated view


def summary_cell(
    summary: SeedSummary | None,
    n_runs: int,
    floor: float | None,
    size: str | None = None,
    *,
    intervals: bool = True,
) -> str:
    """``"21.99 ± 0.50 [21.50, 22.40]"`` (rounded by
    :data:`~medganbench.leaderboard.numbers.ROUNDING_RULE`; without ``intervals``,
    ``"21.99 ± 0.50"``); one seed: ``"21.99 (1 seed)"``; the noise floor and the sample size
    (``N real/generated``) appended where known."""
    if summary is None:
        return _with_floor(EMPTY, floor, size)
    if summary.single_seed or summary.std is None:
        return _with_floor(f"{format_value(summary.mean)} (1 seed)", floor, size)
    text = format_estimate(summary.mean, summary.std, summary.interval if intervals else None)
    # Some runs of the entry lack this metric (e.g. NaN): say how many the numbers rest on.
    if summary.n != n_runs:
        text += f" (n={summary.n})"
    return _with_floor(text, floor, size)


def patient_note(entry: SeedAggregate, column: int) -> str:
    """``" · patient sd 12.3 (n=5)"``: the spread between patients of a per-patient column
    (pooled over seeds, :mod:`~medganbench.leaderboard.patients`); empty for other columns."""
    spread = entry.patient_spreads[column] if entry.patient_spreads else None
    if spread is None:
        return ""
    if spread.sd is None:
        return f" · {spread.n_patients} patient"
    return f" · patient sd {format_spread(spread.sd)} (n={spread.n_patients})"


def format_mean_count(value: float) -> str:
    # Mean steps are usually equal integers; show "300", not "300.0", and never "3e+02".
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def seeds_cell(entry: SeedAggregate) -> str:
    return f"n={entry.n_seeds} ({', '.join(str(s) for s in entry.seeds)})"


def run_ids_cell(run_ids: Sequence[str]) -> str:
    if len(run_ids) > _MAX_RUN_IDS_SHOWN:
        return f"{len(run_ids)} runs"
    return ", ".join(r[:8] for r in run_ids)


def args_text(
    model: str,
    version: str,
    model_args: str,
    precision: str,
    naming: Naming,
    world_size: int = 1,
) -> str:
    args = format_args(naming.changed_args(model, version, model_args))
    if not args and naming.filters_args(model, version):
        args = DEFAULTS_TEXT
    # fp32 says nothing; another precision is what separates two runs of one configuration, so
    # a bf16 row never reads like an fp32 row of the same arguments. A non-learned model's
    # values do not depend on it: no label. The same for a run on several devices.
    labels = [precision] if precision != "fp32" and naming.shows_precision(model) else []
    if world_size > 1:
        labels.append(f"{world_size} devices")
    for label in labels:
        args = f"{args} [{label}]" if args else f"[{label}]"
    return args


def _sizes(entry: SeedAggregate) -> tuple[str | None, ...]:
    return entry.sample_sizes or (None,) * len(entry.summaries)


def args_cell(entry: SeedAggregate, naming: Naming = PLAIN) -> str:
    """The entry's arguments as ``naming`` shows them, and its precision if not fp32 and the
    model learns (:meth:`~medganbench.leaderboard.naming.Naming.shows_precision`), and its
    devices where there were several."""
    return args_text(
        entry.model,
        entry.model_version,
        entry.model_args,
        entry.precision,
        naming,
        entry.world_size,
    )


def args_legend(groups: Sequence[_AnyGroup], naming: Naming) -> str:
    """What the args column leaves out, where it leaves anything out; else empty."""
    models = {
        (e.model, e.model_version)
        for g in groups
        for e in (g.entries if isinstance(g, AggregatedGroup) else g.rows)
    }
    if not any(naming.filters_args(m, v) for m, v in models):
        return ""
    return (
        "args lists the model arguments that differ from the model's defaults "
        f"({DEFAULTS_TEXT!r}: none); the run pages and the CSV export list all of them"
    )


def _aggregate_cells(
    group: AggregatedGroup, naming: Naming, intervals: bool
) -> tuple[list[str], list[list[str]]]:
    """Headers and string cells of one group, one row per model configuration."""
    headers = (
        ["rank", "model", "args", "seeds"]
        + [c.label for c in group.metrics]
        + ["steps", "train s", COST_HEADER, "device", "run ids"]
    )
    cells = []
    for entry in group.entries:
        cells.append(
            [
                EMPTY if entry.rank is None else str(entry.rank),
                f"{entry.model} v{entry.model_version}",
                args_cell(entry, naming),
                seeds_cell(entry),
                *(
                    summary_cell(s, entry.n_seeds, f, n, intervals=intervals)
                    + patient_note(entry, i)
                    for i, (s, f, n) in enumerate(
                        zip(entry.summaries, entry.noise_floors, _sizes(entry), strict=True)
                    )
                ),
                format_mean_count(entry.steps_done),
                f"{entry.train_seconds:.1f}",
                cost_cell(entry.eval_seconds_per_image),
                devices_cell(entry.devices, entry.replicated_runs),
                run_ids_cell(entry.run_ids),
            ]
        )
    return headers, cells


def seed_legend(group: AggregatedGroup, *, intervals: bool = True) -> str:
    """What an aggregated table's cells mean: the interval and rank rule, how numbers are
    rounded, and the patient note where the group has one. Without ``intervals`` (the cells
    leave them out) it says that ranks still come from them."""
    rule = interval_rule(group.confidence)
    if not intervals:
        percent = f"{group.confidence * 100:g}%"
        rule = (
            f"mean ± std over seeds; entries whose {percent} bootstrap intervals of the mean "
            "(not shown) overlap share a rank"
        )
    return f"{rule}; {ROUNDING_RULE}{patient_legend(group)}"


def patient_legend(group: AggregatedGroup) -> str:
    """What :func:`patient_note` means, where a cell of ``group`` has one; else empty."""
    if not any(s for e in group.entries for s in e.patient_spreads):
        return ""
    return (
        "; per-patient (eval_unit=volume) cells add the standard deviation between patients, "
        "pooled over seeds, and the number of patients"
    )


def table_cells(
    group: _AnyGroup, naming: Naming = PLAIN, *, intervals: bool = True
) -> tuple[list[str], list[list[str]]]:
    """The headers and cell texts of ``group``'s full table (terminal and markdown): one row
    per model configuration of an aggregated group, one per run of a ranked one; without
    ``intervals``, mean ± std cells leave the bootstrap interval out."""
    if isinstance(group, AggregatedGroup):
        return _aggregate_cells(group, naming, intervals)
    return _run_cells(group, naming)


# ---------------------------------------------------------------------------------- outputs


def render_markdown(groups: Sequence[_AnyGroup], naming: Naming = PLAIN) -> str:
    """Markdown for ``groups``: a ``##`` heading and a table per group, same cells as
    :func:`render_groups`; ``"_No successful runs._"`` when there are none."""

    def cell(text: str) -> str:
        # A bare "|" would split the cell; args can contain one inside JSON strings.
        return text.replace("|", "\\|")

    parts = []
    marked = False
    for group in groups:
        headers, cells = table_cells(group, naming)
        lines = [f"## {group_title(group, naming)}", ""]
        if is_external(group) and not marked:
            lines = [f"# {EXTERNAL_HEADING}", "", *lines]
            marked = True
        if isinstance(group, AggregatedGroup):
            lines += [f"_{seed_legend(group)}._", ""]
        if legend := args_legend([group], naming):
            lines += [f"_{legend}._", ""]
        lines.append("| " + " | ".join(cell(h) for h in headers) + " |")
        lines.append("|" + "|".join("---" for _ in headers) + "|")
        lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in cells)
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts) if parts else "_No successful runs._\n"


def view_groups(
    table: pa.Table, by: str | None = None, *, runs: bool = False
) -> list[RankedGroup] | list[AggregatedGroup]:
    """The groups a view shows: aggregated over seeds by default, per run with ``runs``.

    Raises:
        LeaderboardError: ``table`` lacks leaderboard columns.
        UsageError: ``by`` is not a metric of any group.
    """
    return ranked_groups(table, by=by) if runs else aggregate_groups(table, by=by)


def markdown(
    table: pa.Table, by: str | None = None, *, runs: bool = False, naming: Naming = PLAIN
) -> str:
    """The markdown export of a leaderboard table (see :func:`view_groups`)."""
    return render_markdown(view_groups(table, by=by, runs=runs), naming)


__all__ = [
    "EMPTY",
    "args_text",
    "markdown",
    "render_markdown",
    "table_cells",
    "view_groups",
]
