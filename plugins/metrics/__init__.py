"""Built-in metric and encoder plugins.

Owns: the metrics (paired, distribution, manifold, memorisation, SynthRAD conventions) and the
feature encoders they use, with their pinned weights.

May import: core, weights.
"""
