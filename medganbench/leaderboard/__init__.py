"""The Arrow leaderboard.

Owns: the one row type and the schema derived from it (:mod:`~medganbench.leaderboard.schema`),
with older schemas' upgrades (:mod:`~medganbench.leaderboard.upgrades`,
:mod:`~medganbench.leaderboard.versions`); reading, validating, locking and appending files
(:mod:`~medganbench.leaderboard.store`); the metric columns of a group and their labels
(:mod:`~medganbench.leaderboard.columns`); comparable groups and both rank rules
(:mod:`~medganbench.leaderboard.ranking`); aggregation over seeds
(:mod:`~medganbench.leaderboard.seeds`, its interval in
:mod:`~medganbench.leaderboard.bootstrap`) with the spread between patients of per-patient rows
(:mod:`~medganbench.leaderboard.patients`); the cells of every view and their markdown
(:mod:`~medganbench.leaderboard.render`), the terminal's tables
(:mod:`~medganbench.leaderboard.terminal`) and the columns a view shows
(:mod:`~medganbench.leaderboard.views`), group titles (:mod:`~medganbench.leaderboard.titles`)
and how every view rounds numbers (:mod:`~medganbench.leaderboard.numbers`); exports (:mod:`~medganbench.leaderboard.export`); and
merging files from several machines (:mod:`~medganbench.leaderboard.merge`,
:mod:`~medganbench.leaderboard.merge_report`).

May import: core, errors, fileio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medganbench.compat import moved_name

if not TYPE_CHECKING:  # type checkers should see only the package's real contents

    def __getattr__(name: str) -> Any:
        # The names of 0.1's module medganbench.leaderboard, with a DeprecationWarning (compat).
        return moved_name(__name__, name)
