"""Every default a user can override, in one place: folders, the run's shape and metric sets.

The command line, the runner, sweeps and the site all read their defaults from here, so a
default changes in one line. Nothing here imports the rest of medganbench.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where ``<dataset>.arrow`` leaderboards live (``--leaderboard-dir``), relative to the working
#: directory.
LEADERBOARD_DIR = Path("leaderboards")
#: Where run directories (``runs/<run id>``) and sweep records (``runs/sweeps``) live
#: (``--runs-dir``).
RUNS_DIR = Path("runs")

#: The dataset a run uses without ``--dataset``: generated, so it needs no download.
DATASET = "phantom-brain"
#: Side length of the square images (``--image-size``).
IMAGE_SIZE = 64
#: The training budget (``--budget``).
BUDGET = "steps=100"
#: Training precision (``--precision``): bf16 on CUDA GPUs that have it, fp32 on CPUs.
PRECISION = "auto"
#: Metrics of a translation model on paired data without ``--metrics``.
PAIRED_METRICS: tuple[str, ...] = ("psnr", "ssim", "mae")
#: Metrics of a sampling (unconditional) model without ``--metrics``: it has no paired target.
SAMPLING_METRICS: tuple[str, ...] = ("fid", "kid")

#: The largest image side, in pixels, any decoder accepts from a file (see
#: :mod:`medganbench.data.images`; ``MEDGANBENCH_MAX_IMAGE_SIDE`` overrides it).
MAX_IMAGE_SIDE = 8192

#: Environment variable naming the cache root (generated datasets, weights, features).
HOME_ENV = "MEDGANBENCH_HOME"


def medganbench_home() -> Path:
    """The cache root: ``$MEDGANBENCH_HOME``, else ``~/.cache/medganbench``. Not created here."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "medganbench"
