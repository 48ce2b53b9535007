"""The body of a run's page: samples, values, conventions, training curves, per-patient values,
the reproduce command, spec and provenance."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from medganbench.core.params import DATA_LOCATION_ARGS
from medganbench.leaderboard.columns import format_args, measure_text
from medganbench.leaderboard.devices import short_device
from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.numbers import format_value
from medganbench.leaderboard.titles import format_budget
from medganbench.site import external as tracks
from medganbench.site.history import RunHistory
from medganbench.site.html import esc, table, text_cell
from medganbench.site.locations import public_args_json, public_spec
from medganbench.site.pages import dataset_file
from medganbench.site.patients import patient_section
from medganbench.site.reproduce import Reproduction
from medganbench.site.training import training_section

__all__ = ["conventions", "primary_first", "run_body"]

_EMPTY = "—"


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    return (
        '<dl class="facts">'
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs)
        + "</dl>"
    )


def primary_first(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``rows`` with the model's primary direction (its ``direction`` argument, else the first
    row's) first, the others in the order the run wrote them."""
    first = rows[0]
    try:
        args = json.loads(first["model_args"])
    except ValueError:
        args = {}
    primary = args.get("direction") if isinstance(args, dict) else None
    primary = primary if any(r["direction"] == primary for r in rows) else first["direction"]
    return sorted(rows, key=lambda r: r["direction"] != primary)


def conventions(rows: Sequence[Mapping[str, Any]]) -> str:
    """Each metric's convention once (the values table would repeat it on every row), named
    by metric, version, arguments and the evaluation axes that differ from the defaults."""
    seen = dict.fromkeys(
        (
            r["metric"],
            r["metric_version"],
            measure_text(r["metric_args"], r["eval_unit"], r["eval_grid"]),
            text,
        )
        for r in rows
        if (text := r["metric_convention"])
    )
    items = "".join(
        f"<dt>{esc(metric)} v{esc(version)}{esc(f' ({axes})' if axes else '')}</dt>"
        f"<dd>{esc(text)}</dd>"
        for metric, version, axes, text in seen
    )
    return f'<h3>Conventions</h3><dl class="facts">{items}</dl>' if items else ""


def run_body(
    rows: Sequence[Mapping[str, Any]],
    images: Sequence[tuple[str, str]],
    spec_json: Mapping[str, Any] | None,
    reproduction: Reproduction,
    naming: Naming = PLAIN,
    private: Collection[str] = DATA_LOCATION_ARGS,
    history: RunHistory | None = None,
) -> str:
    """A run's page: samples, values, training curves, reproduce command, spec and provenance
    (every model argument, the scored checkpoint's protocol and step; directions named by
    ``naming``).

    Args:
        rows: every leaderboard row of the run.
        images: ``(relative src, caption)`` of its sample-grid thumbnails.
        spec_json: its ``spec.json``, if the run directory was available.
        reproduction: its reproduce command.
        private: the dataset's location arguments, left out of its arguments and spec wherever
            they appear (see :func:`~medganbench.site.reproduce.location_names`).
        history: its training history (:func:`~medganbench.site.history.load_history`);
            ``None``: no "Training" section.
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
            text_cell(naming.row_direction(r)),
            text_cell(r["metric"]),
            text_cell(r["metric_version"]),
            text_cell(measure_text(r["metric_args"], r["eval_unit"], r["eval_grid"]) or _EMPTY),
            text_cell(format_value(r["value"]), r["value"], numeric=True),
            text_cell(
                format_value(r["noise_floor"]) if r["noise_floor"] is not None else _EMPTY,
                r["noise_floor"],
                numeric=True,
            ),
        ]
        for r in primary_first(rows)
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
            + ["direction", "metric", "version", "args", "value", "noise floor"],
            value_rows,
            numeric_headers=frozenset({"value", "noise floor"}),
        )
    )
    parts.append(conventions(rows))
    parts.append(training_section(history, primary_first(rows), naming))
    parts += patient_section(primary_first(rows))

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
                ("protocol", first["protocol"]),
                ("selected step", str(first["selected_step"])),
                ("kimg done", f"{first['kimg_done']:.3f}"),
                ("train seconds", f"{first['train_seconds']:.1f}"),
                ("eval seconds", f"{first['eval_seconds']:.1f}"),
                ("eval seconds per image", _per_direction(rows, "eval_seconds_per_image")),
                ("sampling steps per image", _per_direction(rows, "sampling_steps")),
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


def _per_direction(rows: Sequence[Mapping[str, Any]], column: str) -> str:
    """A cost column's value per direction ("a2b 0.0123, b2a 0.0119"), the value alone where
    the run has one direction, a dash where its rows did not measure it."""
    values = {r["direction"]: r[column] for r in rows if r[column] is not None}
    if not values:
        return _EMPTY
    shown = {d: f"{v:.4g}" if isinstance(v, float) else str(v) for d, v in values.items()}
    if len(set(shown.values())) == 1:
        return next(iter(shown.values()))
    return ", ".join(f"{d} {v}" for d, v in shown.items())
