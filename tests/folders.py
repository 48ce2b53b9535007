"""Where a command line run with default options puts things, relative to its working folder."""

from __future__ import annotations

from pathlib import Path

#: The default leaderboard folder (``medganbench.defaults.LEADERBOARD_DIR``), relative to the cwd.
DEFAULT_BOARDS = Path("runs") / "leaderboards"


def the_run_folder(runs: Path) -> Path:
    """The one run folder under ``runs`` (the default leaderboard folder beside it is not one)."""
    (folder,) = [path for path in runs.iterdir() if path.name != DEFAULT_BOARDS.name]
    return folder
