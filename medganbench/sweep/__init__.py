"""Grids of runs.

Owns: sweep files (:mod:`~medganbench.sweep.spec`), the executor contract and the messages between
a sweep and its trials (:mod:`~medganbench.sweep.executor`), the function every trial runs
(:mod:`~medganbench.sweep.trial`), the driver that skips, runs and records trials
(:mod:`~medganbench.sweep.runner`) and its live display (:mod:`~medganbench.sweep.progress`).

May import: core, defaults, errors, fileio, leaderboard, run.
"""
