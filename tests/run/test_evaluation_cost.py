"""Rows record what one output costs: seconds per evaluated image and network evaluations."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.evaluate import GenerationCost
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec

SMALL = {
    "train_subjects": "3",
    "val_subjects": "2",
    "test_subjects": "2",
    "slices_per_subject": "3",
}
TINY_DIFFUSION = {"ch": "8", "ch_mult": "1,2", "attn_res": "4", "sample_steps": "2"}


def _rows(registries, dirs: dict[str, Path], model: str, **args: str) -> list[dict]:
    spec = RunSpec(
        model=model,
        model_args=args,
        dataset_args=SMALL,
        image_size=32,
        budget=Budget(steps=2),
    )
    result = execute_run(spec, registries, RunOptions(progress=False, **dirs))
    return [
        row
        for row in read_leaderboard(result.leaderboard).to_pylist()
        if row["run_id"] == result.run_id
    ]


def test_a_diffusion_row_records_its_sampler_steps_and_seconds_per_image(registries, dirs) -> None:
    rows = _rows(registries, dirs, "cond-ddpm", **TINY_DIFFUSION)
    assert {r["sampling_steps"] for r in rows} == {2}
    seconds = {r["eval_seconds_per_image"] for r in rows}
    # One figure per direction, the same on its slice and patient rows.
    assert len(seconds) == 1
    (per_image,) = seconds
    assert 0.0 < per_image < rows[0]["eval_seconds"]


def test_a_non_learned_baseline_takes_no_network_evaluation(registries, dirs) -> None:
    rows = _rows(registries, dirs, "identity")
    assert {r["sampling_steps"] for r in rows} == {0}
    assert all(r["eval_seconds_per_image"] >= 0.0 for r in rows)


def test_seconds_per_image_grow_with_the_sampler_steps(registries, dirs) -> None:
    few = _rows(registries, dirs, "cond-ddpm", **TINY_DIFFUSION)
    many = _rows(registries, dirs, "cond-ddpm", **{**TINY_DIFFUSION, "sample_steps": "40"})
    # 20 times the denoiser calls; a loaded machine still keeps them well apart.
    assert many[0]["eval_seconds_per_image"] > 4 * few[0]["eval_seconds_per_image"]


def test_generation_cost_is_seconds_over_images() -> None:
    cost = GenerationCost()
    assert cost.per_image == 0.0
    cost = dataclasses.replace(cost, seconds=3.0, images=12)
    assert cost.per_image == pytest.approx(0.25)


def test_score_direction_meters_only_the_models_own_time(registries, dirs, monkeypatch) -> None:
    """A metric that takes long does not make the model look slow."""
    from medganbench.run import evaluate

    calls: list[float] = []
    original_feed = evaluate.feed

    def slow_feed(*args, **kwargs):
        time.sleep(0.2)
        calls.append(1.0)
        return original_feed(*args, **kwargs)

    monkeypatch.setattr(evaluate, "feed", slow_feed)
    rows = _rows(registries, dirs, "identity")
    assert calls and rows[0]["eval_seconds"] > 0.2 * len(calls)
    assert rows[0]["eval_seconds_per_image"] < 0.05
