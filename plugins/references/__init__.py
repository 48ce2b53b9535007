"""Numbers the source papers report, registered through ``medganbench_reported_results``.

They are published next to the measured leaderboards, labelled as reported and never ranked:
they come from the papers' own budgets, splits and metric conventions.

Owns: the reported numbers of papers 000 and 002, with their sources.

May import: core.
"""
