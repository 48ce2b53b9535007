"""The pretrained-weights manager.

Owns: the sources a weights file comes from (:mod:`~medganbench.weights.sources`) and the
verified cache, resolution order, manual installs and verification
(:mod:`~medganbench.weights.store`). The specs themselves are in :mod:`medganbench.core.specs`.

May import: core, defaults, errors, fileio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medganbench.compat import moved_name

if not TYPE_CHECKING:  # type checkers should see only the package's real contents

    def __getattr__(name: str) -> Any:
        # The names of 0.1's module medganbench.weights, with a DeprecationWarning (compat).
        return moved_name(__name__, name)
