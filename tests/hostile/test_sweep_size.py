"""A sweep's size is counted from its axes before anything is expanded, and has a limit.

Before: a 100 × 100 × 100 grid with ``--dry-run`` printed nothing in 120 s and grew to 2.2 GB
while every trial was expanded and resolved. Now the count (seeds × datasets × each model's grid
points) is checked first against ``MEDGANBENCH_MAX_SWEEP_TRIALS`` (default 10,000): one message.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from medganbench.errors import UsageError
from medganbench.sweep.spec import MAX_TRIALS_ENV, parse_sweep
from tests.hostile.conftest import assert_one_message, cli


def _sweep(seeds: int, **grid: int) -> dict[str, Any]:
    return {
        "name": "big", "budget": "steps=1", "image_size": 32, "metrics": ["psnr"],
        "seeds": list(range(seeds)), "datasets": ["phantom-brain"],
        "models": [{"name": "pix2pix", "grid": {k: list(range(1, n + 1)) for k, n in grid.items()}}],
    }  # fmt: skip


def test_a_million_trial_grid_is_refused_before_it_is_expanded() -> None:
    start = time.perf_counter()
    with pytest.raises(UsageError) as info:
        parse_sweep(_sweep(100, ngf=100, ndf=100), "big.toml")
    assert time.perf_counter() - start < 5  # counted, not expanded (that took minutes)
    assert "1,000,000 trials (100 seed(s) × 1 dataset(s) × 10,000 model variant(s))" in str(
        info.value.message
    )
    assert "limit of 10,000" in info.value.message and MAX_TRIALS_ENV in (info.value.hint or "")


def test_the_limit_can_be_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_TRIALS_ENV, "11")
    with pytest.raises(UsageError, match="12 trials"):
        parse_sweep(_sweep(2, ngf=6), "s.toml")
    monkeypatch.setenv(MAX_TRIALS_ENV, "12")
    assert len(parse_sweep(_sweep(2, ngf=6), "s.toml").specs()) == 12
    monkeypatch.setenv(MAX_TRIALS_ENV, "many")
    with pytest.raises(UsageError, match="not a positive number of trials"):
        parse_sweep(_sweep(2, ngf=6), "s.toml")


@pytest.mark.slow
def test_the_command_line_refuses_a_huge_grid_with_one_message(work: Path) -> None:
    axis = list(range(1, 101))
    (work / "big.toml").write_text(
        'name = "big"\nbudget = "steps=1"\nimage_size = 32\nmetrics = ["psnr"]\n'
        f'seeds = {list(range(100))}\ndatasets = ["phantom-brain"]\n'
        f'[[models]]\nname = "pix2pix"\ngrid = {{ ngf = {axis}, ndf = {axis} }}\n'
    )
    proc = cli("sweep", "big.toml", "--dry-run", cwd=work, timeout=120)
    assert_one_message(proc, code=2)
    assert "1,000,000 trials" in proc.stderr and proc.stdout == ""
