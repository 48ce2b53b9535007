"""medganbench: a fair benchmark harness for GAN medical image synthesis.

The core defines the plugin hooks (:mod:`medganbench.core.hookspecs`), the contracts that datasets,
models and metrics follow (:mod:`medganbench.core.dataset`, :mod:`medganbench.core.model`,
:mod:`medganbench.core.metric`), the budgeted runner and the Arrow leaderboard. Built-in components
live in the separate import package ``medganbench_plugins``; the core never imports it directly.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
