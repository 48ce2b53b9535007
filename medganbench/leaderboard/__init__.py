"""The Arrow leaderboard.

Owns: the one row type and the schema derived from it (:mod:`~medganbench.leaderboard.schema`),
with older schemas' upgrades (:mod:`~medganbench.leaderboard.upgrades`); reading, validating, locking and appending files
(:mod:`~medganbench.leaderboard.store`); the metric columns of a group and their labels
(:mod:`~medganbench.leaderboard.columns`); comparable groups and both rank rules
(:mod:`~medganbench.leaderboard.ranking`); aggregation over seeds
(:mod:`~medganbench.leaderboard.seeds`) with the spread between patients of per-patient rows
(:mod:`~medganbench.leaderboard.patients`); terminal and markdown rendering
(:mod:`~medganbench.leaderboard.render`) with how every view rounds numbers
(:mod:`~medganbench.leaderboard.numbers`); exports (:mod:`~medganbench.leaderboard.export`); and
merging files from several machines (:mod:`~medganbench.leaderboard.merge`,
:mod:`~medganbench.leaderboard.merge_report`).

May import: core, errors, fileio.
"""
