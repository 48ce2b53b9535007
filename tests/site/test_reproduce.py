"""The site's reproduce command of runs with per-patient and native-grid rows: the evaluation
axes are columns, so the metric arguments are the metric's own, and a native run's command asks
for ``--eval-grid native``."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from medganbench.core.manager import Registries
from medganbench.core.params import canonical_json
from medganbench.run.budget import Budget
from medganbench.run.spec import RunSpec, resolve_run
from medganbench.site.reproduce import reproduce
from tests.leaderboard.rows import make_row

AXES = [("slice", "image_size"), ("volume", "image_size"), ("volume", "native")]


def _rows(registries: Registries, grid: str, axes: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """A run's rows as the runner records them: psnr (with an argument) and mae, per axis."""
    spec = RunSpec(
        model="identity",
        dataset="synthrad2023",
        metrics=("psnr", "mae"),
        metric_args={"psnr": {"convention": "synthrad2023"}},
        budget=Budget(steps=5),
        eval_grid=grid,
    )
    run = resolve_run(spec, registries)
    return [
        make_row(
            run_id=run.run_id,
            model="identity",
            model_version=run.model_version,
            model_args=canonical_json(run.model_args),
            dataset="synthrad2023",
            dataset_version=run.dataset_version,
            dataset_args=canonical_json(run.dataset_args),
            image_size=spec.image_size,
            budget_steps=5,
            metric=metric,
            metric_version=run.metric_versions[metric],
            metric_args=canonical_json(run.metric_args[metric]),
            eval_unit=unit,
            eval_grid=row_grid,
        )
        for unit, row_grid in axes
        for metric in spec.metrics
    ]


@pytest.mark.parametrize(("grid", "axes"), [("native", AXES), ("image_size", AXES[:2])])
def test_a_runs_command_gives_its_run_id_with_the_grid_it_asked_for(
    registries: Registries, grid: str, axes: list[tuple[str, str]]
) -> None:
    rows = _rows(registries, grid, axes)
    reproduction = reproduce(rows, None, registries)
    assert reproduction.checked
    words = shlex.split(reproduction.command)
    assert ("--eval-grid" in words) == (grid == "native")
    if grid == "native":
        assert words[words.index("--eval-grid") + 1] == "native"
    # The metric's own argument once; the axes are never turned into arguments.
    metric_args = [w for w in words if w.startswith("--metric-arg")]
    assert metric_args == ["--metric-arg=psnr.convention=synthrad2023"]
    assert "eval_unit" not in reproduction.command


def test_a_native_run_without_native_rows_takes_the_grid_from_its_spec(
    registries: Registries,
) -> None:
    rows = _rows(registries, "native", AXES[:1])
    assert not reproduce(rows, None, registries).checked  # the rows alone cannot tell
    spec_json = {"eval_grid": "native", "precision": "auto", "channels_last": True}
    reproduction = reproduce(rows, spec_json, registries)
    assert reproduction.checked and "--eval-grid native" in reproduction.command


def test_a_legacy_eval_grid_dataset_argument_becomes_the_option(registries: Registries) -> None:
    # A run recorded before --eval-grid: eval_grid was among its dataset arguments.
    rows = [
        {**r, "dataset_args": '{"eval_grid":"native","region":"brain"}'}
        for r in _rows(registries, "native", AXES)
    ]
    reproduction = reproduce(rows, None, registries)
    assert "--eval-grid native" in reproduction.command
    assert "--dataset-arg=eval_grid" not in reproduction.command


def test_an_external_runs_score_command_asks_for_the_native_grid(registries: Registries) -> None:
    rows = [
        {**r, "track": "external", "budget_steps": None} for r in _rows(registries, "native", AXES)
    ]
    command = reproduce(rows, None, registries).command
    assert command.startswith("medganbench score ") and command.endswith("--eval-grid native")
    rows = [r for r in rows if r["eval_grid"] == "image_size"]
    assert "--eval-grid" not in reproduce(rows, None, registries).command
