"""Built-in model plugins.

Owns: the models (translation, sampling, diffusion), assembled from the blocks of
:mod:`medganbench_plugins.nn`, and the upper limits of their size arguments
(:mod:`~medganbench_plugins.models.limits`).

May import: core, nn.
"""
