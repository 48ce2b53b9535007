"""The command line run in the test's own process, for tests that need no process of their own."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path


def cli_in_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line's own group (its error handling included) run in this process with
    click's test runner, from ``cwd``: for tests whose subject is not the process itself (its
    signals, environment or terminal width), as a subprocess costs seconds of start-up each.
    An exception other than the command's exit is a bug and is raised."""
    from click.testing import CliRunner

    from medganbench.cli import main

    with contextlib.chdir(cwd):
        result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug: the test shows its traceback
    return subprocess.CompletedProcess(
        ["medganbench", *args], result.exit_code, result.stdout, result.stderr
    )
