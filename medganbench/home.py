"""Where medganbench keeps caches (generated datasets, weights)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "MEDGANBENCH_HOME"


def medganbench_home() -> Path:
    """The cache root: ``$MEDGANBENCH_HOME``, else ``~/.cache/medganbench``. Not created here."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "medganbench"
