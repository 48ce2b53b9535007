"""Run identity: the same spec gives the same id; anything that can move a number changes it."""

from __future__ import annotations

import dataclasses

import pytest

from medganbench.run.budget import Budget
from medganbench.run.spec import RunSpec, resolve_run


def _id(registries, **changes) -> str:
    spec = dataclasses.replace(RunSpec(model="identity", budget=Budget(steps=5)), **changes)
    return resolve_run(spec, registries).run_id


def test_same_spec_same_id(registries) -> None:
    assert _id(registries) == _id(registries)


def test_id_is_16_hex_digits(registries) -> None:
    run_id = _id(registries)
    assert len(run_id) == 16 and int(run_id, 16) >= 0


def test_explicit_default_argument_gives_the_same_id(registries) -> None:
    assert _id(registries, model_args={"batch_size": "8"}) == _id(registries)


@pytest.mark.parametrize(
    "changes",
    [
        {"seed": 1},
        {"image_size": 32},
        {"budget": Budget(steps=6)},
        {"budget": Budget(steps=5, seconds=100.0)},
        {"metrics": ("psnr",)},
        {"model_args": {"batch_size": "4"}},
        {"dataset_args": {"seed": "3"}},
        {"model": "intensity-lookup"},
    ],
)
def test_any_change_changes_the_id(registries, changes) -> None:
    assert _id(registries, **changes) != _id(registries)


def test_model_version_is_part_of_identity(registries) -> None:
    run = resolve_run(RunSpec(model="identity", budget=Budget(steps=5)), registries)
    bumped = dataclasses.replace(run, model_version=run.model_version + ".1")
    assert bumped.run_id != run.run_id
