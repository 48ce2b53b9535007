"""``medganbench leaderboard show|export|merge|publish``."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.markup import escape  # paths and values are data, not markup
from rich.table import Table
from rich.text import Text

from medganbench import defaults
from medganbench.cli.common import CommandGroup, err, leaderboard_dir_option, leaderboard_files, out
from medganbench.core.manager import build_registries, collect_reported_results, make_plugin_manager
from medganbench.errors import UsageError
from medganbench.leaderboard.export import EXPORT_FORMATS
from medganbench.leaderboard.export import export as export_table
from medganbench.leaderboard.merge import POLICIES, merge_to_file
from medganbench.leaderboard.merge_report import MergeConflictError, write_report
from medganbench.leaderboard.naming import PLAIN, naming_for
from medganbench.leaderboard.ranking import ranked_groups, sample_size_warnings
from medganbench.leaderboard.render import view_groups
from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from medganbench.leaderboard.terminal import render_groups
from medganbench.leaderboard.titles import EXTERNAL_HEADING, is_external
from medganbench.leaderboard.views import View, select


@click.group(cls=CommandGroup)
def leaderboard() -> None:
    """Show or export leaderboards."""


@leaderboard.command()
@click.option("--dataset", "-d", default=None, help="Only this dataset's leaderboard.")
@leaderboard_dir_option
@click.option(
    "--by", default=None, help="Metric to rank by (default: the first metric of each group)."
)
@click.option("--runs", is_flag=True, help="One row per run instead of mean ± std over seeds.")
@click.option(
    "--all-args",
    is_flag=True,
    help="List every model argument, not only those that differ from the model's defaults.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    help="Only this metric's columns (repeatable; groups without it are left out); ranks by the "
    "first one unless --by says otherwise.",
)
@click.option("--no-ci", is_flag=True, help="Leave the bootstrap intervals out of the cells.")
@click.option(
    "--compact",
    is_flag=True,
    help="One short line per model: rank, model, args, seeds and mean ± std of the ranking "
    "column (or the --metric columns); no interval, floor, sample size, device or run ids.",
)
def show(
    dataset: str | None,
    leaderboard_dir: Path,
    by: str | None,
    runs: bool,
    all_args: bool,
    metrics: tuple[str, ...],
    no_ci: bool,
    compact: bool,
) -> None:
    """Rank comparable runs (same dataset version, image size, budget, metric version).

    By default runs that differ only by seed are merged: mean ± std and a 95% bootstrap interval
    per metric; configurations whose intervals overlap share a rank. A warning follows when a
    ranked column mixes rows scored on different numbers of images (FID and KID depend on N).
    Outputs made elsewhere (`medganbench score`, track external) follow under their own
    heading, in their own tables, never ranked with budgeted runs.
    The args column lists the arguments that differ from the model's defaults (--all-args: all
    of them); directions are named by modality, e.g. "MR → CT (a2b)", a sampler's "noise → CT".

    Tables take the terminal's width (COLUMNS where set; 200 columns when the output is piped
    and COLUMNS is not set). For a narrow terminal: --metric NAME, --no-ci, --compact.
    """
    registries = build_registries(make_plugin_manager())
    view = View(metrics=metrics, intervals=not no_ci, compact=compact)
    shown = False
    for path in leaderboard_files(leaderboard_dir, dataset):
        board = read_leaderboard(path)
        held = [m for m in metrics if m in set(board.column("metric").to_pylist())]
        if metrics and not held:
            continue
        rank_by = by or (held[0] if held else None)
        naming = naming_for(board, registries, all_args=all_args)
        groups = select(view_groups(board, by=rank_by, runs=runs), view)
        marked = False
        for index, table in enumerate(render_groups(groups, naming, view)):
            if is_external(groups[index]) and not marked:
                # Outputs made elsewhere come last, under their own heading: never one ranking.
                out.rule(EXTERNAL_HEADING)
                marked = True
            out.print(table, markup=False)
        shown = True
        for line in sample_size_warnings(ranked_groups(board, by=rank_by)):
            err.print(f"[bold yellow]warning:[/] {escape(line)}", highlight=False)
    if not shown:
        raise UsageError(
            f"No run on {dataset or 'any leaderboard'} has the metric(s) {', '.join(metrics)}.",
            hint="medganbench list metrics lists the metrics; leaderboard show without "
            "--metric shows every column.",
        )


@leaderboard.command()
@click.option("--dataset", "-d", required=True, help="The dataset whose leaderboard to export.")
@click.option("--format", "fmt", required=True, type=click.Choice(EXPORT_FORMATS))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, allow_dash=True),
    help="The file to write; - writes to standard output.",
)
@leaderboard_dir_option
@click.option("--by", default=None, help="Metric to rank by in the md export.")
@click.option("--runs", is_flag=True, help="md: one row per run instead of mean ± std over seeds.")
@click.option(
    "--all-args",
    is_flag=True,
    help="md: list every model argument, not only those that differ from the defaults.",
)
def export(
    dataset: str,
    fmt: str,
    out_path: Path,
    leaderboard_dir: Path,
    by: str | None,
    runs: bool,
    all_args: bool,
) -> None:
    """Export a leaderboard as CSV or Parquet (all rows, every argument, full precision) or
    Markdown (ranked tables; arguments that differ from the model's defaults, directions by
    modality). --out - writes to standard output."""
    stdout = str(out_path) == "-"
    if stdout and fmt == "parquet" and sys.stdout.isatty():
        raise UsageError(
            "Parquet is binary: it is not written to a terminal.",
            hint="Redirect the output (--out - > board.parquet) or give --out FILE.",
        )
    board = read_leaderboard(leaderboard_path(leaderboard_dir, dataset))
    naming = (
        naming_for(board, build_registries(make_plugin_manager()), all_args=all_args)
        if fmt == "md"
        else PLAIN
    )
    if stdout:
        sink = sys.stdout.buffer
        try:
            export_table(board, fmt, sink, by=by, runs=runs, naming=naming)
            sink.flush()
        except BrokenPipeError:
            # The reader stopped early (| head): not an error. Later flushes go nowhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    export_table(board, fmt, out_path, by=by, runs=runs, naming=naming)
    out.print(f"wrote {out_path}", markup=False, highlight=False)


# How many conflicts the terminal lists; --report FILE.json holds all of them.
_CONFLICTS_SHOWN = 20


@leaderboard.command(name="merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The merged file; may be one of the inputs (replaced atomically after everything is read).",
)
@click.option(
    "--on-conflict",
    default="fail",
    show_default=True,
    type=click.Choice(POLICIES),
    help="When inputs disagree about a run: write nothing and exit 1, keep the earliest input's rows, or keep every version.",
)
@click.option(
    "--report",
    "report_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the summary and every conflict to this JSON file.",
)
def leaderboard_merge(
    inputs: tuple[Path, ...], out_path: Path, on_conflict: str, report_path: Path | None
) -> None:
    """Merge leaderboard files of one dataset, e.g. from several machines, into OUT.

    Identical copies of a row are kept once. Rows of one run that differ between inputs are
    conflicts: listed, never overwritten silently, resolved by --on-conflict. Older schemas are
    upgraded; files of a newer medganbench are refused.
    """

    try:
        result = merge_to_file(inputs, out_path, on_conflict)
    except MergeConflictError as exc:
        # Show what was read and what disagrees before the error itself (printed by CommandGroup).
        report = exc.to_json()
        _print_merge_summary(report, [c.describe() for c in exc.conflicts], report_path)
        if report_path is not None:
            write_report(report, report_path)
        raise
    report = result.to_json(out_path)
    if report_path is not None:
        write_report(report, report_path)
    _print_merge_summary(report, [c.describe() for c in result.conflicts], report_path)
    out.print(f"wrote {out_path}", markup=False, highlight=False)


def _print_merge_summary(
    report: dict[str, Any], conflicts: list[str], report_path: Path | None
) -> None:
    """Print a merge report (see MergeResult.to_json): inputs, counts, the first conflicts."""

    table = Table(title="leaderboard merge")  # printed without markup: the paths are data
    for column in ("input", "rows read", "schema read"):
        table.add_column(column)
    for source in report["inputs"]:
        table.add_row(source["path"], str(source["rows"]), f"v{source['schema_version_read']}")
    out.print(table, markup=False)
    policy = report["policy"]
    written = f"{report['rows_out']} row(s) out" if report["written"] else "nothing written"
    resolved = {
        "fail": "",
        "first": f", resolved by --on-conflict first ({report['discarded']} version(s) discarded)",
        "keep-all": ", every version kept (--on-conflict keep-all)",
    }[policy]
    out.print(
        f"{written}; {report['duplicates']} duplicate(s) dropped; "
        f"{len(conflicts)} conflict(s){resolved if conflicts else ''}"
        + (
            f"; {report['replicated']} row key(s) recorded on several devices, kept as replicates"
            if report["replicated"]
            else ""
        ),
        markup=False,
        highlight=False,
    )
    # Conflicts go to stderr whatever the policy: they are never resolved silently.
    colour = "red" if policy == "fail" else "yellow"
    for line in conflicts[:_CONFLICTS_SHOWN]:
        err.print(f"[bold {colour}]conflict:[/] {escape(line)}", highlight=False)
    if len(conflicts) > _CONFLICTS_SHOWN:
        where = (
            f"all in {report_path}"
            if report_path is not None
            else "pass --report FILE.json for all"
        )
        err.print(
            f"… and {len(conflicts) - _CONFLICTS_SHOWN} more conflict(s) ({where})",
            markup=False,
            highlight=False,
        )


@leaderboard.command()
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(path_type=Path, file_okay=False),
    help="The site directory (created, or replaced if it holds an earlier site).",
)
@leaderboard_dir_option
@click.option(
    "--runs-dir",
    default=defaults.RUNS_DIR,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Run directories: sample grids and specs for the run pages.",
)
@click.option(
    "--dataset",
    "-d",
    "datasets",
    multiple=True,
    help="Only these datasets (repeatable); default all.",
)
@click.option(
    "--to-hub",
    "hub_repo",
    default=None,
    metavar="ORG/NAME",
    help="Also upload the site and the leaderboards to this Hugging Face Hub dataset repo.",
)
def publish(
    out_dir: Path | None,
    leaderboard_dir: Path,
    runs_dir: Path,
    datasets: tuple[str, ...],
    hub_repo: str | None,
) -> None:
    """Write a static site of the leaderboards (plain HTML/CSS/JS; opens from disk or any static host)."""
    from medganbench.site import publish_site  # the site's templates load only when needed

    if out_dir is None and hub_repo is None:
        raise UsageError("Nothing to do: give --out DIR, --to-hub ORG/NAME, or both.")
    boards = (
        [p for name in datasets for p in leaderboard_files(leaderboard_dir, name)]
        if datasets
        else leaderboard_files(leaderboard_dir, None)
    )
    pm = make_plugin_manager()
    reported = [r for r in collect_reported_results(pm) if not datasets or r.dataset in datasets]
    with tempfile.TemporaryDirectory() as scratch:
        target = out_dir or Path(scratch) / "site"
        summary = publish_site(
            boards, target, runs_dir=runs_dir, registries=build_registries(pm), reported=reported
        )
        out.print(
            f"site: {summary.datasets} dataset page(s), {summary.groups} group(s), {summary.runs} run page(s), "
            f"{summary.images} thumbnail(s), {summary.reported} reported-in-paper row(s), "
            f"{summary.bytes / 2**20:.2f} MiB" + (f" in {summary.out}" if out_dir else ""),
            markup=False,
            highlight=False,
        )
        if out_dir is not None:
            out.print(
                f"open {(summary.out / 'index.html').resolve().as_uri()}",
                markup=False,
                highlight=False,
            )
        if hub_repo is not None:
            from medganbench.site.hub import upload_to_hub

            with err.status(Text(f"uploading to {hub_repo}")):
                url = upload_to_hub(hub_repo, summary.out, boards)
            out.print(f"uploaded: {url}", markup=False, highlight=False)
