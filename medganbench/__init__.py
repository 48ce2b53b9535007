"""medganbench: a fair benchmark harness for GAN medical image synthesis.

The packages follow the stages of a run (see docs/architecture.md):

* :mod:`medganbench.core` — the plugin system (hooks, specs, parameters, registries, plugin
  manager) and the contracts datasets, models and metrics implement;
* :mod:`medganbench.data` and :mod:`medganbench.weights` — what plugins use to find dataset
  files and pretrained weights;
* :mod:`medganbench.run` — one run: spec and identity, then prepare → train → evaluate → record,
  and resuming;
* :mod:`medganbench.leaderboard` — the Arrow leaderboard: row schema, store, ranking, seeds,
  rendering, export, merge;
* :mod:`medganbench.sweep` — grids of runs on executor plugins;
* :mod:`medganbench.site` — the static site;
* :mod:`medganbench.cli` — the command line.

Shared by all of them: :mod:`medganbench.errors`, :mod:`medganbench.defaults`,
:mod:`medganbench.fileio` and :mod:`medganbench.compat` (the old import paths of 0.1, kept until
0.4 with a ``DeprecationWarning``). Built-in components live in the separate import package
``medganbench_plugins``; the core never imports it directly.

Plugin authors import from one module, :mod:`medganbench.plugin`: the public API, with a
versioning promise (its docstring; docs/plugins.md). It sits above the subpackages, which never
import it.
"""

from __future__ import annotations

from medganbench import compat

#: Semantic versioning: the public plugin API (medganbench.plugin) changes incompatibly only in a
#: new major version (while 0, a new minor one, after a deprecation). The one place the version
#: is written: pyproject.toml reads it from here. CHANGELOG.md says what each version changed.
__version__ = "0.2.0"

# The module paths of 0.1 import again, with a DeprecationWarning naming the new path.
compat.install()

__all__ = ["__version__"]
