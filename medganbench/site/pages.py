"""The bodies of the site's pages: index, one page per dataset, one page per run."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from medganbench.core.params import DATA_LOCATION_ARGS
from medganbench.leaderboard.columns import format_args, measure_text
from medganbench.leaderboard.devices import short_device
from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.ranking import interval_rule
from medganbench.leaderboard.render import (
    args_cell,
    args_legend,
    devices_cell,
    format_budget,
    format_mean_count,
    format_value,
    group_title,
    is_external,
    patient_legend,
    patient_note,
    summary_cell,
)
from medganbench.leaderboard.seeds import AggregatedGroup
from medganbench.site import external as tracks
from medganbench.site.charts import Point, Series, line_chart
from medganbench.site.html import Cell, esc, table, text_cell
from medganbench.site.locations import public_args_json, public_spec
from medganbench.site.patients import patient_section
from medganbench.site.reported import reported_section
from medganbench.site.reproduce import Reproduction

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


def group_section(group: AggregatedGroup, anchor: str, naming: Naming = PLAIN) -> str:
    """One comparable group: its key and a sortable table of its entries (arguments that
    differ from the model's defaults, the direction by modality, see ``naming``)."""
    headers = ["rank", "model", "args", "seeds"] + [c.label for c in group.metrics]
    headers += ["steps done", "train s", "device", "runs"]
    rows = []
    for entry in group.entries:
        cells = [
            text_cell(entry.rank if entry.rank is not None else _EMPTY, entry.rank, numeric=True),
            text_cell(f"{entry.model} v{entry.model_version}", entry.model),
            text_cell(args_cell(entry, naming) or _EMPTY),
            text_cell(
                f"n={entry.n_seeds}" + ("" if entry.n_seeds > 1 else " (single seed)"),
                entry.n_seeds,
            ),
        ]
        sizes = entry.sample_sizes or (None,) * len(entry.summaries)
        for i, (summary, floor, size) in enumerate(
            zip(entry.summaries, entry.noise_floors, sizes, strict=True)
        ):
            cells.append(
                text_cell(
                    summary_cell(summary, len(entry.run_ids), floor, size) + patient_note(entry, i),
                    None if summary is None else summary.mean,
                    numeric=True,
                )
            )
        cells += [
            text_cell(format_mean_count(entry.steps_done), entry.steps_done, numeric=True),
            text_cell(f"{entry.train_seconds:.1f}", entry.train_seconds, numeric=True),
            text_cell(devices_cell(entry.devices, entry.replicated_runs)),
            Cell(_run_links(entry.run_ids)),
        ]
        rows.append(cells)
    numeric = frozenset(["rank", "steps done", "train s"] + [c.label for c in group.metrics])
    args_note = f"; {legend}" if (legend := args_legend([group], naming)) else ""
    ranked = f"ranked by {group.ranked_by.label}" if group.ranked_by else "not ranked"
    budget, badge = tracks.budget_note(group)
    return (
        f'<section id="{esc(anchor)}"><h2>{esc(group_title(group, naming))}{badge}</h2>'
        f'<p class="muted">{esc(budget)}; {esc(ranked)}. '
        f"{esc(interval_rule(group.confidence) + patient_legend(group))}; single-seed entries "
        f"are marked{esc(args_note)}. Click a column "
        f"header to sort.</p>" + table(headers, rows, numeric_headers=numeric) + "</section>"
    )


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
            direction = naming.direction(k["dataset"], k["dataset_fingerprint"], k["direction"])
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
) -> str:
    """A dataset's page: one table per comparable group, the budget charts, reported numbers."""
    parts = [f'<p class="muted">{runs} runs in {len(groups)} comparable group(s).</p>']
    if not groups:
        parts.append("<p>No measured runs yet.</p>")
    if groups:
        toc = "".join(
            f'<li><a href="#g{i}">{esc(group_title(g, naming))}</a></li>'
            for i, g in enumerate(groups)
        )
        parts.append(f"<nav><ul>{toc}</ul></nav>")
    external = [group_section(g, f"g{i}", naming) for i, g in enumerate(groups) if is_external(g)]
    parts += [group_section(g, f"g{i}", naming) for i, g in enumerate(groups) if not is_external(g)]
    parts.append(budget_charts([g for g in groups if not is_external(g)], naming))
    parts.append(tracks.external_section(external) if external else "")
    parts.append(reported_section(reported))
    return "".join(parts)


# -------------------------------------------------------------------------------- run pages


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    return (
        '<dl class="facts">'
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs)
        + "</dl>"
    )


def run_body(
    rows: Sequence[Mapping[str, Any]],
    images: Sequence[tuple[str, str]],
    spec_json: Mapping[str, Any] | None,
    reproduction: Reproduction,
    naming: Naming = PLAIN,
    private: Collection[str] = DATA_LOCATION_ARGS,
) -> str:
    """A run's page: samples, values, reproduce command, spec and provenance (every model
    argument; directions named by ``naming``).

    Args:
        rows: every leaderboard row of the run.
        images: ``(relative src, caption)`` of its sample-grid thumbnails.
        spec_json: its ``spec.json``, if the run directory was available.
        reproduction: its reproduce command.
        private: the dataset's location arguments, left out of its arguments and spec wherever
            they appear (see :func:`~medganbench.site.reproduce.location_names`).
    """
    first = rows[0]
    parts = [
        f'<p><a href="../{dataset_file(first["dataset"])}">← {esc(first["dataset"])} leaderboard</a></p>'
    ]
    parts.append("<h2>Samples</h2>")
    if images:
        parts += [
            f'<figure><img src="{esc(src)}" alt="{esc(caption)}" loading="lazy"><figcaption>{esc(caption)}</figcaption></figure>'
            for src, caption in images
        ]
    else:
        parts.append(
            '<p class="muted">No sample grid: the run directory was not available when the site was published.</p>'
        )

    devices = sorted({r["device"] for r in rows})
    # A run recorded on several devices (replicates) lists each device's values.
    by_device = len(devices) > 1
    value_rows = [
        ([text_cell(short_device(r["device"]))] if by_device else [])
        + [
            text_cell(naming.direction(r["dataset"], r["dataset_fingerprint"], r["direction"])),
            text_cell(r["metric"]),
            text_cell(r["metric_version"]),
            text_cell(measure_text(r["metric_args"], r["eval_unit"], r["eval_grid"]) or _EMPTY),
            text_cell(format_value(r["value"]), r["value"], numeric=True),
            text_cell(
                format_value(r["noise_floor"]) if r["noise_floor"] is not None else _EMPTY,
                r["noise_floor"],
                numeric=True,
            ),
            text_cell(r["metric_convention"]),
        ]
        for r in rows
    ]
    parts.append("<h2>Values</h2>")
    if by_device:
        parts.append(
            f'<p class="muted">Recorded on {len(devices)} devices: replicates of one run, whose '
            "values differ by kernel-level rounding amplified by training; rankings use their "
            "mean.</p>"
        )
    parts.append(
        table(
            (["device"] if by_device else [])
            + ["direction", "metric", "version", "args", "value", "noise floor", "convention"],
            value_rows,
            numeric_headers=frozenset({"value", "noise floor"}),
        )
    )
    parts += patient_section(rows)

    check = (
        "Checked: with the components installed where this site was built, this command gives run id "
        f"{first['run_id']}."
        if reproduction.checked
        else "Not checked: a component of this run is not installed (or has another version) where this site was built."
    )
    if external := first.get("track") == "external":
        parts.insert(1, tracks.EXTERNAL_RUN_NOTE)
        check = tracks.external_check(first["run_id"])
    parts.append("<h2>Reproduce this row</h2>")
    parts.append(
        f'<pre class="reproduce"><code>{esc(reproduction.command)}</code></pre><p class="muted">{esc(check)}</p>'
    )

    parts.append("<h2>Spec</h2>")
    spec = (
        public_spec(spec_json, private)
        if spec_json
        else {
            k: first[k]
            for k in (
                "model",
                "model_version",
                "dataset",
                "dataset_version",
                "image_size",
                "seed",
                "eval_split",
            )
        }
    )
    parts.append(
        f"<pre><code>{esc(json.dumps(spec, indent=2, sort_keys=True, default=str))}</code></pre>"
    )

    weights = {}
    for r in rows:
        weights.update(json.loads(r["weights"]))
    parts.append("<h2>Provenance</h2>")
    parts.append(
        _facts(
            [
                ("run id", first["run_id"]),
                ("model", f"{first['model']} v{first['model_version']}"),
                ("model args", format_args(first["model_args"]) or _EMPTY),
                ("dataset", f"{first['dataset']} v{first['dataset_version']}"),
                (
                    "dataset args",
                    format_args(public_args_json(first["dataset_args"], private)) or _EMPTY,
                ),
                ("dataset fingerprint", first["dataset_fingerprint"]),
                ("image size", f"{first['image_size']} px"),
                ("split", first["eval_split"]),
                ("seed", str(first["seed"])),
                ("budget", "none (external outputs)" if external else format_budget(first)),
                ("steps done", str(first["steps_done"])),
                ("kimg done", f"{first['kimg_done']:.3f}"),
                ("train seconds", f"{first['train_seconds']:.1f}"),
                ("eval seconds", f"{first['eval_seconds']:.1f}"),
                ("peak memory", f"{first['peak_memory_mb']:.0f} MiB"),
                ("device", " | ".join(devices)),
                ("precision", first["precision"]),
                ("channels last", str(first["channels_last"]).lower()),
                (
                    "parameters",
                    f"{first['parameters']:,}" if first["parameters"] is not None else _EMPTY,
                ),
                (
                    "FLOPs per step",
                    f"{first['flops_per_step']:,}"
                    if first["flops_per_step"] is not None
                    else _EMPTY,
                ),
                (
                    "weights (sha256)",
                    ", ".join(f"{k} {v[:16]}…" for k, v in sorted(weights.items())) or _EMPTY,
                ),
                ("track", first.get("track", "budgeted")),
                *tracks.provenance_facts(rows),
                ("recorded at", str(first["created_at"])),
                ("medganbench", first["medganbench_version"]),
            ]
        )
    )
    return "".join(parts)
