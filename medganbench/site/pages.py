"""The bodies of the site's index and dataset pages (a run's page: :mod:`medganbench.site.runs`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.render import (
    args_cell,
    args_legend,
    devices_cell,
    format_mean_count,
    patient_note,
    seed_legend,
    summary_cell,
)
from medganbench.leaderboard.seeds import AggregatedGroup
from medganbench.leaderboard.titles import (
    group_direction,
    group_title,
    is_external,
    is_reader_study,
)
from medganbench.site import external as tracks
from medganbench.site.charts import Point, Series, line_chart
from medganbench.site.cost import cost_section
from medganbench.site.history import RunHistory
from medganbench.site.html import Cell, esc, table, text_cell
from medganbench.site.reported import reported_section
from medganbench.site.training import group_curves
from medganbench.site.whiskers import dot_whisker_chart, full_cell_text

if TYPE_CHECKING:
    from medganbench.core.specs import ReportedResult

_BUDGET_KEYS = ("budget_steps", "budget_kimg", "budget_seconds")
_EMPTY = "—"


def dataset_file(dataset: str) -> str:
    """The dataset page's path relative to the site root."""
    return f"datasets/{dataset}.html"


def run_file(run_id: str) -> str:
    """The run page's path relative to the site root."""
    return f"runs/{run_id}.html"


# ------------------------------------------------------------------------------------ index


def index_body(datasets: Mapping[str, Mapping[str, Any]]) -> str:
    """The list of datasets with their counts; ``datasets`` maps name to facts."""
    rows = [
        [
            Cell(f'<a href="{dataset_file(name)}">{esc(name)}</a>', name),
            text_cell(facts["runs"], facts["runs"], numeric=True),
            text_cell(facts["groups"], facts["groups"], numeric=True),
            text_cell(", ".join(facts["models"]) or _EMPTY),
            text_cell(facts["reported"], facts["reported"], numeric=True),
        ]
        for name, facts in sorted(datasets.items())
    ]
    intro = (
        "<p>Every model on these pages was trained under the same budget, on the same splits, and "
        "scored by the same validated metrics. Runs are grouped so that only comparable runs are "
        "ranked together (same dataset version and files, image size, budget, split and "
        "direction); seeds of one configuration are pooled into mean ± std and a 95% bootstrap "
        "interval, and configurations whose intervals overlap share a rank. Outputs made "
        "elsewhere and scored here (track external: no budget) are shown apart, under their own "
        "heading, and never ranked with trained runs.</p>"
    )
    headers = ["dataset", "runs", "comparable groups", "models", "reported in papers"]
    return intro + table(headers, rows, numeric_headers=frozenset(headers[1:3] + headers[4:]))


# ---------------------------------------------------------------------------- dataset pages


def _run_links(run_ids: Sequence[str]) -> str:
    return " ".join(f'<a href="../{run_file(r)}">{esc(r[:8])}</a>' for r in run_ids)


def group_section(
    group: AggregatedGroup,
    anchor: str,
    naming: Naming = PLAIN,
    histories: Mapping[str, RunHistory] | None = None,
) -> str:
    """One comparable group: its key, its dot-and-whisker chart, a sortable table of its entries
    (arguments that differ from the model's defaults, the direction by modality, see
    ``naming``) and, where ``histories`` (by run id) hold validation values of its runs, their
    curves against step.

    The table fits a laptop screen: a metric cell shows mean ± std (its full text, with the
    interval, is the cell's tooltip and the chart above draws the interval), and the run links
    come right after the seeds, so they never end up beyond the right edge.
    """
    headers = ["rank", "model", "args", "seeds", "runs"] + [c.label for c in group.metrics]
    headers += ["steps done", "train s", "eval s/image", "device"]
    rows = []
    for entry in group.entries:
        cells = [
            text_cell(entry.rank if entry.rank is not None else _EMPTY, entry.rank, numeric=True),
            text_cell(f"{entry.model} v{entry.model_version}", entry.model),
            text_cell(args_cell(entry, naming) or _EMPTY, css_class="args"),
            text_cell(
                f"n={entry.n_seeds}" + ("" if entry.n_seeds > 1 else " (single seed)"),
                entry.n_seeds,
            ),
            Cell(_run_links(entry.run_ids), css_class="runs"),
        ]
        sizes = entry.sample_sizes or (None,) * len(entry.summaries)
        for i, (summary, floor, size) in enumerate(
            zip(entry.summaries, entry.noise_floors, sizes, strict=True)
        ):
            short = summary_cell(summary, len(entry.run_ids), floor, size, intervals=False)
            short += patient_note(entry, i)
            # A narrow column breaks "30.05 ± 0.09" after the ±, never around it alone.
            short = short.replace(" ± ", "\u00a0± ")
            full = full_cell_text(entry, i)
            cells.append(
                text_cell(
                    short,
                    None if summary is None else summary.mean,
                    numeric=True,
                    title=full if full != short.replace("\u00a0", " ") else "",
                )
            )
        cells += [
            text_cell(format_mean_count(entry.steps_done), entry.steps_done, numeric=True),
            text_cell(f"{entry.train_seconds:.1f}", entry.train_seconds, numeric=True),
            _cost_cell(entry.eval_seconds_per_image, entry.sampling_steps),
            text_cell(devices_cell(entry.devices, entry.replicated_runs)),
        ]
        rows.append(cells)
    numeric = frozenset(
        ["rank", "steps done", "train s", "eval s/image"] + [c.label for c in group.metrics]
    )
    args_note = f"; {legend}" if (legend := args_legend([group], naming)) else ""
    ranked = f"ranked by {group.ranked_by.label}" if group.ranked_by else "not ranked"
    budget, badge = tracks.budget_note(group)
    return (
        f'<section id="{esc(anchor)}"><h2>{esc(group_title(group, naming))}{badge}</h2>'
        f'<p class="muted">{esc(budget)}; {esc(ranked)}. '
        f"{esc(seed_legend(group))}; the cells show mean ± std, their interval is the whisker "
        f"in the chart and the cell's tooltip; single-seed entries "
        f"are marked{esc(args_note)}. Click a column "
        f"header to sort.</p>"
        + dot_whisker_chart(group, naming)
        + table(headers, rows, numeric_headers=numeric)
        + group_curves(group, histories or {})
        + "</section>"
    )


def _cost_cell(seconds: float | None, steps: int | None) -> Cell:
    """Seconds per evaluated image (4 significant figures), with the network evaluations per
    image in the tooltip; a dash where the rows did not measure it."""
    if seconds is None:
        return text_cell(_EMPTY)
    title = "" if steps is None else f"{steps} network evaluation(s) per image"
    return text_cell(f"{seconds:.4g}", seconds, numeric=True, title=title)


def _budget_axis(groups: Sequence[AggregatedGroup]) -> str | None:
    """The budget measure every group sets (steps first), or ``None`` if there is none."""
    for key in _BUDGET_KEYS:
        if all(g.key.get(key) is not None for g in groups):
            return key
    return None


def budget_charts(groups: Sequence[AggregatedGroup], naming: Naming = PLAIN) -> str:
    """One chart per metric for groups that differ only in budget, where there are 2+ budgets."""
    buckets: dict[tuple[Any, ...], list[AggregatedGroup]] = defaultdict(list)
    for group in groups:
        rest = tuple(v for k, v in sorted(group.key.items()) if k not in _BUDGET_KEYS)
        buckets[rest].append(group)
    charts = []
    for bucket in buckets.values():
        axis = _budget_axis(bucket)
        if axis is None or len({g.key[axis] for g in bucket}) < 2:
            continue
        columns = list(dict.fromkeys(c for g in bucket for c in g.metrics))
        for column in columns:
            by_config: dict[str, list[Point]] = defaultdict(list)
            for group in bucket:
                if column not in group.metrics:
                    continue
                index = group.metrics.index(column)
                for entry in group.entries:
                    summary = entry.summaries[index]
                    if summary is None:
                        continue
                    by_config[_series_label(entry, bucket)].append(
                        Point(float(group.key[axis]), summary.mean, summary.ci_low, summary.ci_high)
                    )
            series = [
                Series(label, tuple(points))
                for label, points in by_config.items()
                if len(points) >= 2
            ]
            if not series:
                continue
            k = bucket[0].key
            direction = group_direction(bucket[0], naming)
            title = f"{column.label} against budget — {direction}, {k['image_size']} px"
            charts.append(
                f"<figure>{line_chart(series, axis.removeprefix('budget_'), column.label, title)}"
                f"<figcaption>{esc(title)}; points are means over seeds, whiskers their 95% "
                f"intervals.</figcaption></figure>"
            )
    if not charts:
        return ""
    return "<section><h2>Metrics against budget</h2>" + "".join(charts) + "</section>"


def _series_label(entry: Any, bucket: Sequence[AggregatedGroup]) -> str:
    """The model name, plus its arguments where the bucket has several configurations of it."""
    configs = {
        (e.model, e.model_args, e.precision)
        for g in bucket
        for e in g.entries
        if e.model == entry.model
    }
    return entry.model if len(configs) == 1 else f"{entry.model} {args_cell(entry)}"


def dataset_body(
    groups: Sequence[AggregatedGroup],
    reported: Sequence[ReportedResult],
    runs: int,
    naming: Naming = PLAIN,
    histories: Mapping[str, RunHistory] | None = None,
) -> str:
    """A dataset's page: one chart and table per comparable group (with its runs' validation
    curves where ``histories``, by run id, hold some), the budget charts, the quality against
    evaluation cost charts, reported numbers."""
    parts = [f'<p class="muted">{runs} runs in {len(groups)} comparable group(s).</p>']
    if not groups:
        parts.append("<p>No measured runs yet.</p>")
    if groups:
        toc = "".join(
            f'<li><a href="#g{i}">{esc(group_title(g, naming))}</a></li>'
            for i, g in enumerate(groups)
        )
        parts.append(f"<nav><ul>{toc}</ul></nav>")
    sections = [group_section(g, f"g{i}", naming, histories) for i, g in enumerate(groups)]
    external = [s for s, g in zip(sections, groups, strict=True) if is_external(g)]
    studies = [s for s, g in zip(sections, groups, strict=True) if is_reader_study(g)]
    budgeted = [g for g in groups if not is_external(g) and not is_reader_study(g)]
    parts += [s for s, g in zip(sections, groups, strict=True) if g in budgeted]
    parts.append(budget_charts(budgeted, naming))
    parts.append(cost_section(groups, naming))
    parts.append(tracks.external_section(external) if external else "")
    parts.append(tracks.reader_study_section(studies) if studies else "")
    parts.append(reported_section(reported))
    return "".join(parts)
