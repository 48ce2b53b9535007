"""``medganbench sweep``: a TOML grid of runs on an executor plugin."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from medganbench import defaults
from medganbench.cli.common import (
    err,
    leaderboard_dir_option,
    load_registries,
    out,
    threads_option,
)
from medganbench.core.manager import Registries
from medganbench.core.params import ArgValue, parse_key_values
from medganbench.run.options import RunOptions
from medganbench.sweep.capture import CapturedOutput
from medganbench.sweep.progress import SweepDisplay, summary_table
from medganbench.sweep.runner import (
    make_executor,
    recorded_runs,
    run_sweep,
    sweep_log_path,
    sweep_record_path,
)
from medganbench.sweep.spec import SweepSpec, expand_trials, load_sweep


@click.command()
@click.argument("sweep_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--executor",
    "-e",
    default="local",
    show_default=True,
    help="Executor plugin: local or ray (see `medganbench list executors`).",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="local executor: trials at once, each in its own process.",
)
@click.option(
    "--address", default=None, help="ray executor: address of an existing cluster (e.g. auto)."
)
@click.option(
    "--executor-arg",
    "executor_args",
    multiple=True,
    metavar="K=V",
    help="Executor argument; repeatable.",
)
@leaderboard_dir_option
@click.option(
    "--runs-dir",
    default=defaults.RUNS_DIR,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Run directories and the sweep record (shared storage on a cluster).",
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Where the datasets' files are, on the workers.",
)
@click.option(
    "--device", default=None, help="Device of every trial; default CUDA when present, else CPU."
)
@threads_option
@click.option("--checkpoint-every", default=None, type=click.IntRange(min=1), metavar="STEPS")
@click.option("--deterministic", is_flag=True, help="Deterministic algorithms only.")
@click.option(
    "--dry-run", is_flag=True, help="List the trials and which are already recorded; run nothing."
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="A live table of the trials, or one line per change [default: live on a terminal].",
)
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
    threads: int | None,
    checkpoint_every: int | None,
    deterministic: bool,
    dry_run: bool,
    progress: bool | None,
) -> None:
    """Run every trial of SWEEP_FILE (a TOML grid) that is not on the leaderboard yet.

    Trials already recorded are skipped and interrupted ones resume from their checkpoints,
    so running a sweep again finishes only what is missing. Exits 1 if any trial failed.
    What the libraries print on their own (Ray, torch) goes to runs/sweeps/<name>.log.
    """
    registries = load_registries()
    spec = load_sweep(sweep_file)
    raw: dict[str, ArgValue] = dict(parse_key_values(executor_args, "--executor-arg"))
    for name, value in (("workers", workers), ("address", address)):
        if value is not None:
            raw[name] = value
    options = RunOptions(
        leaderboard_dir=leaderboard_dir,
        runs_dir=runs_dir,
        device=device,
        data_dir=data_dir,
        deterministic=deterministic,
        checkpoint_every=checkpoint_every,
        threads=threads,
    )
    if dry_run:
        _print_trials(spec, registries, options)
        return
    runner = make_executor(registries, executor, raw)
    live = err.is_terminal if progress is None else progress
    with CapturedOutput() as captured:
        # The display keeps the terminal; everything else printed meanwhile goes to the log.
        console = Console(file=captured.terminal, width=err.width, force_terminal=err.is_terminal)
        with SweepDisplay(console, live=live) as display:
            report = run_sweep(spec, registries, runner, options, display, captured)
    out.print(summary_table(report))
    if report.count("failed"):
        log = sweep_log_path(runs_dir, spec.name)
        err.print(
            f"[bold red]{report.count('failed')} trial(s) failed[/]; their errors are above and in "
            f"{sweep_record_path(runs_dir, spec.name)}"
            + (f" (what Ray and the workers printed: {log})" if log.exists() else "")
            + ". Run the sweep again to retry them.",
            highlight=False,
            soft_wrap=True,
        )
        raise click.exceptions.Exit(1)


def _print_trials(spec: SweepSpec, registries: Registries, options: RunOptions) -> None:
    trials = expand_trials(spec, registries)
    recorded = recorded_runs(options.leaderboard_dir, {t.spec.dataset for t in trials})
    table = Table(
        title=f"sweep {spec.name}: {len(trials)} trials, budget {spec.budget}, {spec.image_size} px"
    )
    for column in ("#", "trial", "run id", "on the leaderboard"):
        table.add_column(column)
    for trial in trials:
        table.add_row(
            str(trial.index + 1),
            trial.label,
            trial.run_id,
            "yes" if trial.run_id in recorded else "no",
        )
    out.print(table)
