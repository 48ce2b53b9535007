"""The folders a run writes into, checked before anything is computed."""

from __future__ import annotations

from pathlib import Path

from medganbench.core.names import leads_outside
from medganbench.errors import StorageError
from medganbench.fileio import writable_dir_problem
from medganbench.run.options import RunOptions


def check_folders(options: RunOptions) -> None:
    """Refuse, before anything is computed, folders the run could not write its result into.

    Raises:
        StorageError: ``--leaderboard-dir`` or ``--runs-dir`` is a file, is not writable, or
            cannot be created.
    """
    folders = [("--runs-dir", options.runs_dir)]
    if options.record:
        folders.append(("--leaderboard-dir", options.leaderboard_dir))
    for flag, folder in folders:
        problem = writable_dir_problem(Path(folder))
        if problem is not None:
            raise StorageError(
                f"{flag} {folder} cannot be used: {problem}.",
                hint=f"Choose another folder with {flag}, or fix its permissions.",
            )


def check_run_dir(runs_dir: Path, run_id: str) -> None:
    """Refuse, before anything is computed, a run folder that leads outside ``--runs-dir``.

    Run ids are predictable: a link planted at ``runs/<id>`` would otherwise receive the run's
    checkpoint, spec, result and samples wherever it points.

    Raises:
        StorageError: ``runs_dir / run_id`` resolves outside ``runs_dir``.
    """
    run_dir = Path(runs_dir) / run_id
    if leads_outside(Path(runs_dir), run_dir):
        raise StorageError(
            f"Run folder {run_dir} leads outside --runs-dir {runs_dir} (a link medganbench did "
            "not make); nothing was written through it.",
            hint=f"Remove {run_dir}, or choose another --runs-dir.",
        )
