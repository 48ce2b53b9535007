"""The plugin system and the contracts every component honours.

Owns: the hook specifications (:mod:`~medganbench.core.hookspecs`), component specs and how a
component is built (:mod:`~medganbench.core.specs`; the weights specs in :mod:`~medganbench.core.weights_specs`), declared parameters
(:mod:`~medganbench.core.params`), name registries (:mod:`~medganbench.core.registry`), the
plugin manager (:mod:`~medganbench.core.manager`) and the dataset, model, metric, encoder and
tracker contracts (:mod:`~medganbench.core.dataset`, :mod:`~medganbench.core.model`,
:mod:`~medganbench.core.metric`, :mod:`~medganbench.core.encoder`,
:mod:`~medganbench.core.tracker`, with the history records a tracker receives:
:mod:`~medganbench.core.history`).

May import: errors.
"""
