"""What every command shares: the consoles, the error-to-exit-code group, registries, paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from medganbench import defaults
from medganbench.core.dataset import DatasetContext
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.errors import INTERRUPTED_EXIT, MedganbenchError, UsageError
from medganbench.fileio import describe_os_error
from medganbench.leaderboard.schema import EVAL_GRIDS
from medganbench.leaderboard.store import leaderboard_path
from medganbench.run.launch import report_error

#: The width of piped output (CI logs, files, tests) where ``COLUMNS`` is not set: wide, so
#: tables are not cut to rich's default of 80 columns.
PIPED_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or ``COLUMNS`` where set (rich's own rule); piped
    output without ``COLUMNS`` gets :data:`PIPED_WIDTH` columns."""
    plain = Console(stderr=stderr)
    if plain.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return plain
    return Console(stderr=stderr, width=PIPED_WIDTH)


out = console()
err = console(stderr=True)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during one run: which run folder it was, and the command that continues it."""

    def __init__(self, run_dir: Path, command: str) -> None:
        super().__init__(str(run_dir))
        self.run_dir, self.command = run_dir, command


class CommandGroup(click.Group):
    """A click group that turns :class:`MedganbenchError` into one message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MedganbenchError as exc:
            if report_error(exc.message, exc.hint, exc.exit_code):
                ctx.exit(exc.exit_code)  # a worker of `run --devices N`: the launcher says it
            # Messages carry paths and values (data, not markup): "[x]" must print as is.
            err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
            if exc.hint:
                err.print(escape(exc.hint), highlight=False)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # a full disk, a read-only folder: the machine's, not a bug
            message, hint = describe_os_error(exc)
            err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
            err.print(escape(hint), highlight=False)
            ctx.exit(1)
        except RunInterrupted as exc:
            err.print(
                f"[bold yellow]interrupted:[/] run folder {escape(str(exc.run_dir))}: no row was "
                "written; its checkpoints are complete. Continue it with:",
                highlight=False,
            )
            err.print(escape(exc.command), highlight=False)
            ctx.exit(INTERRUPTED_EXIT)
        except KeyboardInterrupt:
            err.print(
                "[bold yellow]interrupted:[/] no row of an unfinished run was written; "
                "checkpoints written so far are complete (run --resume, or rerun the sweep)."
            )
            ctx.exit(INTERRUPTED_EXIT)


def load_registries() -> Registries:
    """The registries of every installed plugin (built-ins, then entry points)."""
    return build_registries(make_plugin_manager())


def leaderboard_files(directory: Path, dataset: str | None) -> list[Path]:
    """The leaderboard of ``dataset``, or every leaderboard in ``directory``.

    Raises:
        UsageError: ``directory`` holds no leaderboard.
    """
    if dataset is not None:
        return [leaderboard_path(directory, dataset)]
    files = sorted(directory.glob("*.arrow"))
    if not files:
        raise UsageError(
            f"No leaderboards in {directory}.",
            hint="Run a model first, e.g. medganbench run --model identity",
        )
    return files


def dataset_context(name: str, data_dir: Path | None) -> DatasetContext:
    """The context a dataset's locate/download functions get outside a run."""
    return DatasetContext(
        defaults.IMAGE_SIZE, defaults.medganbench_home() / "datasets" / name, data_dir
    )


#: ``--leaderboard-dir``, shared by every command that reads or writes leaderboards.
leaderboard_dir_option = click.option(
    "--leaderboard-dir",
    default=defaults.leaderboard_dir,
    show_default=f"{defaults.LEADERBOARD_DIR}, or ${defaults.LEADERBOARD_DIR_ENV}",
    type=click.Path(path_type=Path),
    help="Directory of the <dataset>.arrow leaderboards. The default keeps your results beside "
    "your runs; name a published board (e.g. the repository's leaderboards/) explicitly.",
)

#: ``--threads``, shared by ``run``, ``sweep`` and ``score``.
threads_option = click.option(
    "--threads",
    default=None,
    type=click.IntRange(min=1),
    metavar="N",
    help="Torch CPU threads [default: OMP_NUM_THREADS if set, else on a CPU the cores other "
    "processes leave free at the start, at least 1]. --threads 1 on a machine whose other jobs "
    "come and go (benchmarks/README.md). A run option: recorded in the rows' device, never in "
    "the run id.",
)

#: ``--eval-grid``, shared by ``run`` and ``score``.
eval_grid_option = click.option(
    "--eval-grid",
    type=click.Choice(EVAL_GRIDS),
    default=EVAL_GRIDS[0],
    show_default=True,
    help="native: also score each patient volume on its native grid (translated slices resized "
    "back to the patient's own in-plane size), for datasets that can give it — the paired volume "
    "datasets; what SynthRAD comparisons need. Adds rows with eval_grid=native.",
)
