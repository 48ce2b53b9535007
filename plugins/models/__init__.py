"""Built-in model plugins.

Owns: the models (translation, sampling, diffusion), assembled from the blocks of
:mod:`medganbench_plugins.nn`.

May import: core, nn.
"""
