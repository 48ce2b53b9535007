"""``medganbench sweep``: a TOML grid of runs on an executor plugin."""

from __future__ import annotations

from pathlib import Path

import click
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape  # paths and labels are data, not markup

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
    "--keep-checkpoint",
    is_flag=True,
    help="Keep the final checkpoint (all networks and optimiser states, hundreds of MB) once the "
    "rows are recorded; by default it is deleted then.",
)
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
    keep_checkpoint: bool,
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
        keep_checkpoint=keep_checkpoint,
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
    out.print(summary_table(report), markup=False)
    if report.count("failed"):
        log = sweep_log_path(runs_dir, spec.name)
        err.print(
            f"[bold red]{report.count('failed')} trial(s) failed[/]; "
            + escape(
                f"their errors are above and in {sweep_record_path(runs_dir, spec.name)}"
                + (f" (what Ray and the workers printed: {log})" if log.exists() else "")
                + ". Run the sweep again to retry them."
            ),
            highlight=False,
            soft_wrap=True,
        )
        raise click.exceptions.Exit(1)


def _print_trials(spec: SweepSpec, registries: Registries, options: RunOptions) -> None:
    """One line per trial in aligned columns: plain text, because a rich table of a 10,000-trial
    sweep took 8 s to lay out (0.3 s this way)."""
    trials = expand_trials(spec, registries)
    recorded = recorded_runs(options.leaderboard_dir, {t.spec.dataset for t in trials})
    rows = [("#", "trial", "run id", "on the leaderboard")] + [
        (str(t.index + 1), t.label, t.run_id, "yes" if t.run_id in recorded else "no")
        for t in trials
    ]
    widths = [max(cell_len(row[k]) for row in rows) for k in range(4)]

    def line(row: tuple[str, str, str, str]) -> str:
        first = " " * (widths[0] - cell_len(row[0])) + row[0]
        rest = [cell + " " * (widths[k] - cell_len(cell)) for k, cell in enumerate(row) if k]
        return "  ".join([first, *rest]).rstrip()

    title = f"sweep {spec.name}: {len(trials)} trials, budget {spec.budget}, {spec.image_size} px"
    text = "\n".join([title, *map(line, rows)])
    out.print(text, markup=False, highlight=False, soft_wrap=True)
