"""Golden values: the README's main command and the non-learned baselines do not drift.

Recorded with the code before the core was reorganised into subpackages (issue 13), on the
embedded phantom at the defaults (64 px, steps=100, seed 0). The run ids were re-recorded for
issue 17: the requested precision replaced ``amp`` in every run's identity, and hlsnc's version
went to 2 (reference initialisation); the baselines' values did not move. A change that moves one of these
numbers must be deliberate: bump the component's version (which changes its run id) and update
the value here in the same commit, saying why.

Trained models' values are not pinned: GAN training amplifies kernel-level rounding, so they
differ between CPUs (docs/architecture.md). The baselines involve no training and are pinned to
a relative 1e-9.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from medganbench.cli.run_spec import spec_from_options
from medganbench.core.manager import Registries
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec, resolve_run

#: ``medganbench run --model M`` with every default, as the README's main command runs it.
README_RUN_IDS = {
    "hlsnc": "da309fec5c7bb29d",
    "identity": "dcf0e630d92a3ff0",
    "intensity-lookup": "cdbadff7984231cc",
}

BASELINE_VALUES = {
    "identity": {"psnr": 12.512758711129974, "ssim": 0.09490684402797843, "mae": 734.7031411529013},
    "intensity-lookup": {
        "psnr": 18.231831294365332,
        "ssim": 0.3661999303645128,
        "mae": 263.4054003775239,
    },
}


def _default_spec(registries: Registries, model: str) -> RunSpec:
    return spec_from_options(registries, model)


@pytest.mark.parametrize("model", sorted(README_RUN_IDS))
def test_default_command_gives_the_recorded_run_id(registries: Registries, model: str) -> None:
    assert resolve_run(_default_spec(registries, model), registries).run_id == README_RUN_IDS[model]


@pytest.mark.parametrize("model", sorted(BASELINE_VALUES))
def test_baseline_gives_the_recorded_values(
    registries: Registries, model: str, tmp_path: Path
) -> None:
    options = RunOptions(
        leaderboard_dir=tmp_path / "leaderboards", runs_dir=tmp_path / "runs", progress=False
    )
    result = execute_run(_default_spec(registries, model), registries, options)
    assert result.run_id == README_RUN_IDS[model]
    for metric, want in BASELINE_VALUES[model].items():
        assert math.isclose(result.metrics[metric], want, rel_tol=1e-9), metric
