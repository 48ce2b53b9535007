"""The entry point of ``medganbench`` and ``python -m medganbench``: Ctrl-C from the first moment.

SIGINT's handler (:mod:`medganbench.interrupts`) is installed before anything heavy is imported,
and explicitly: a process started from a script's background job inherits SIGINT *ignored*, and
Python then never raises KeyboardInterrupt — a run would carry on to its budget. An interrupt
during start-up (importing torch takes seconds) waits for the imports to finish, then ends the
command like any other: one line, exit 130, nothing written.
"""

from __future__ import annotations

import sys

from medganbench import interrupts
from medganbench.errors import INTERRUPTED_EXIT


def entry() -> None:
    """Run the command line; Ctrl-C at any moment exits 130 without a traceback."""
    interrupts.install()
    try:
        # Held back until the imports are done: raised inside a C extension's import
        # (numpy, torch), an interrupt comes out as a broken ImportError instead.
        with interrupts.deferred():
            from medganbench.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: during start-up; nothing was written.\n")
        sys.exit(INTERRUPTED_EXIT)
    main()


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    entry()
