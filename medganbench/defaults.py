"""Every default a user can override, in one place: folders, the run's shape and metric sets.

The command line, the runner, sweeps and the site all read their defaults from here, so a
default changes in one line. Nothing here imports the rest of medganbench.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where run directories (``runs/<run id>``) and sweep records (``runs/sweeps``) live
#: (``--runs-dir``), relative to the working directory.
RUNS_DIR = Path("runs")
#: Where ``<dataset>.arrow`` leaderboards are written and read without ``--leaderboard-dir``:
#: beside the runs they come from, the user's own work — never a published board under version
#: control (the repository's ``leaderboards/`` is written only when named explicitly).
LEADERBOARD_DIR = RUNS_DIR / "leaderboards"
#: Environment variable that moves the default leaderboard directory.
LEADERBOARD_DIR_ENV = "MEDGANBENCH_LEADERBOARD_DIR"

#: The dataset a run uses without ``--dataset``: generated, so it needs no download.
DATASET = "phantom-brain"
#: Side length of the square images (``--image-size``).
IMAGE_SIZE = 64
#: The training budget (``--budget``).
BUDGET = "steps=100"
#: Training precision (``--precision``): bf16 on CUDA GPUs and CPUs with native bf16, else fp32.
PRECISION = "auto"
#: Without ``--metrics``, the metrics follow the data (:func:`medganbench.run.spec.default_metrics`):
#: a translation model on paired data gets the paired metrics ...
PAIRED_METRICS: tuple[str, ...] = ("psnr", "ssim", "mae")
#: ... on unpaired data, distribution metrics for its one-way directions (A→B, B→A) ...
UNPAIRED_METRICS: tuple[str, ...] = ("fid", "kid")
#: ... plus, for a cycle-consistent model, the paired metrics on its round trips (A→B→A vs A).
ROUND_TRIP_METRICS: tuple[str, ...] = PAIRED_METRICS
#: A sampling (unconditional) model has no paired target: distribution metrics, the coverage
#: and fidelity of what it samples, and whether it copies its training set.
SAMPLING_METRICS: tuple[str, ...] = (
    "fid",
    "kid",
    "precision",
    "recall",
    "density",
    "coverage",
    "memorisation",
)
#: On a volume dataset (3-D items), a sampling model gets the 3-D distribution metrics: the
#: three-plane Fréchet distance, the Fréchet radiomics distance of the volumes, the maximum
#: mean discrepancy and the MS-SSIM diversity of its samples ...
VOLUME_SAMPLING_METRICS: tuple[str, ...] = ("fd-planes", "frd-3d", "mmd", "ms-ssim-diversity")
#: ... a translation model on paired volumes the paired metrics (per axial slice, and per
#: patient in 3-D) ...
VOLUME_PAIRED_METRICS: tuple[str, ...] = PAIRED_METRICS
#: ... and on unpaired volumes the distribution metrics of volumes that compare two sets.
VOLUME_UNPAIRED_METRICS: tuple[str, ...] = ("fd-planes", "frd-3d", "mmd")

#: The largest image side, in pixels, any decoder accepts from a file (see
#: :mod:`medganbench.data.images`; ``MEDGANBENCH_MAX_IMAGE_SIDE`` overrides it).
MAX_IMAGE_SIDE = 8192

#: The most trials one sweep file may have (``MEDGANBENCH_MAX_SWEEP_TRIALS`` overrides it):
#: counted from the grid's axes before anything is expanded (see :mod:`medganbench.sweep.spec`).
MAX_SWEEP_TRIALS = 10_000

#: Environment variable naming the cache root (generated datasets, weights, features).
HOME_ENV = "MEDGANBENCH_HOME"


def leaderboard_dir() -> Path:
    """The default leaderboard directory: ``$MEDGANBENCH_LEADERBOARD_DIR``, else
    :data:`LEADERBOARD_DIR`."""
    env = os.environ.get(LEADERBOARD_DIR_ENV)
    return Path(env).expanduser() if env else LEADERBOARD_DIR


def medganbench_home() -> Path:
    """The cache root: ``$MEDGANBENCH_HOME``, else ``~/.cache/medganbench``. Not created here."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "medganbench"
