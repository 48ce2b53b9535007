"""Grids of runs.

Owns: sweep files (:mod:`~medganbench.sweep.spec`), the executor contract and the messages between
a sweep and its trials (:mod:`~medganbench.sweep.executor`), the function every trial runs
(:mod:`~medganbench.sweep.trial`), the driver that skips, runs and records trials
(:mod:`~medganbench.sweep.runner`) and its live display (:mod:`~medganbench.sweep.progress`).

May import: core, defaults, errors, fileio, leaderboard, run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medganbench.compat import moved_name

if not TYPE_CHECKING:  # type checkers should see only the package's real contents

    def __getattr__(name: str) -> Any:
        # The names of 0.1's module medganbench.sweep, with a DeprecationWarning (compat).
        return moved_name(__name__, name)
