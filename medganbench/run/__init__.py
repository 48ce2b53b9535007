"""One run, in the order it happens.

Owns: the run spec, its resolution and identity (:mod:`~medganbench.run.spec`), run options
(:mod:`~medganbench.run.options`), budgets and the ledger (:mod:`~medganbench.run.budget`), the
phases :mod:`~medganbench.run.prepare` → :mod:`~medganbench.run.train` →
:mod:`~medganbench.run.evaluate` → :mod:`~medganbench.run.record` and their composition
(:mod:`~medganbench.run.runner`), resuming (:mod:`~medganbench.run.resume`), and what training
needs: the data order (:mod:`~medganbench.run.batches`), checkpoints
(:mod:`~medganbench.run.checkpoint`), devices (:mod:`~medganbench.run.device`), the CPU threads
(:mod:`~medganbench.run.threads`), models too large for memory (:mod:`~medganbench.run.memory`),
FLOP counting (:mod:`~medganbench.run.flops`), the progress bar (:mod:`~medganbench.run.progress`), sample
grids (:mod:`~medganbench.run.samples`) and the trackers a run mirrors its history to
(:mod:`~medganbench.run.trackers`). Outputs made elsewhere: a split's inputs exported
(:mod:`~medganbench.run.export`), the files exchanged (:mod:`~medganbench.run.outputs`) and their
scoring by the run's own phases (:mod:`~medganbench.run.external`).

May import: core, data, defaults, errors, fileio, leaderboard, weights.
"""
