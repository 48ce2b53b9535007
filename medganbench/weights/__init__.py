"""The pretrained-weights manager.

Owns: the sources a weights file comes from (:mod:`~medganbench.weights.sources`) and the
verified cache, resolution order, manual installs and verification
(:mod:`~medganbench.weights.store`). The specs themselves are in :mod:`medganbench.core.specs`.

May import: core, defaults, errors, fileio.
"""
