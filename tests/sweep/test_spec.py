"""Sweep files: parsing, grid expansion, run ids, and the shipped examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.model import Task
from medganbench.errors import UnknownNameError, UsageError
from medganbench.run.spec import resolve_run
from medganbench.sweep.spec import expand_trials, load_sweep, parse_sweep
from medganbench_plugins.models.hagan import TABLE4_ABLATION
from medganbench_plugins.models.hlsnc import TABLE5_ABLATION

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"

BASE = {
    "name": "t",
    "budget": "steps=2",
    "image_size": 32,
    "metrics": ["psnr"],
    "seeds": [0, 1],
    "datasets": ["phantom-brain"],
    "models": ["identity"],
}


def test_a_sweep_passes_its_checkpoint_protocol_to_every_trial() -> None:
    sweep = parse_sweep({**BASE, "eval_every": 5, "select": "best:psnr"}, "t.toml")
    specs = [spec for _, spec in sweep.specs()]
    assert {(s.select, s.eval_every) for s in specs} == {("best:psnr", 5)}
    assert {s.protocol for s in specs} == {"best:psnr@val"}


def test_minimal_sweep_expands_seeds_times_models() -> None:
    sweep = parse_sweep({**BASE, "models": ["identity", "intensity-lookup"]}, "t.toml")
    labels = [label for label, _ in sweep.specs()]
    assert labels == [
        "identity · phantom-brain · seed 0",
        "intensity-lookup · phantom-brain · seed 0",
        "identity · phantom-brain · seed 1",
        "intensity-lookup · phantom-brain · seed 1",
    ]


def test_grid_is_the_cartesian_product_over_fixed_args() -> None:
    models = [
        {
            "name": "cyclegan",
            "args": {"ngf": 8},
            "grid": {"loss": ["hinge", "lsgan"], "lr": [1e-4, 2e-4]},
        }
    ]
    sweep = parse_sweep({**BASE, "seeds": [0], "models": models}, "t.toml")
    variants = [(v.args["loss"], v.args["lr"], v.args["ngf"]) for v in sweep.models]
    assert variants == [
        ("hinge", 1e-4, 8),
        ("hinge", 2e-4, 8),
        ("lsgan", 1e-4, 8),
        ("lsgan", 2e-4, 8),
    ]
    assert sweep.models[1].label == "cyclegan loss=hinge lr=0.0002"


def test_every_trial_carries_the_one_budget_size_and_metric_set() -> None:
    sweep = parse_sweep({**BASE, "models": ["identity", "intensity-lookup"]}, "t.toml")
    specs = [spec for _, spec in sweep.specs()]
    assert {str(s.budget) for s in specs} == {"steps=2"}
    assert {s.image_size for s in specs} == {32}
    assert {s.metrics for s in specs} == {("psnr",)}
    assert [s.seed for s in specs] == [0, 0, 1, 1]


def test_trials_have_the_run_ids_of_their_specs() -> None:
    registries = build_registries(make_plugin_manager())
    trials = expand_trials(parse_sweep(BASE, "t.toml"), registries)
    assert [t.run_id for t in trials] == [resolve_run(t.spec, registries).run_id for t in trials]
    assert len({t.run_id for t in trials}) == 2


def test_variants_equal_after_resolution_run_once() -> None:
    registries = build_registries(make_plugin_manager())
    # lr=0.0002 is pix2pix's default, so both entries are the same run.
    models = [{"name": "pix2pix"}, {"name": "pix2pix", "args": {"lr": 0.0002}}]
    trials = expand_trials(
        parse_sweep({**BASE, "seeds": [0], "models": models}, "t.toml"), registries
    )
    assert len(trials) == 1 and trials[0].label == "pix2pix · phantom-brain · seed 0"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 3}, "unknown key"),
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"seeds": [1, 1]}, "a seed is listed twice"),
        ({"metrics": "psnr"}, "metrics must be of type list"),
        ({"name": "../x"}, "must be a plain file name"),
        ({"models": [{"name": "identity", "grid": {"lr": []}}]}, "non-empty lists"),
        (
            {"models": [{"name": "cyclegan", "args": {"lr": 1}, "grid": {"lr": [2]}}]},
            "in both args and grid",
        ),
        ({"models": [{"args": {}}]}, "needs a name"),
        ({"datasets": [{"name": "phantom-brain", "label": "x"}]}, "unknown key"),
        ({"amp": False}, 'amp was replaced by precision = "auto"'),
        ({"precision": True}, "precision must be of type str"),
        ({"eval_every": 0}, "eval_every 0 must be a number of steps"),
        ({"select": 3}, "select must be of type str"),
    ],
)
def test_malformed_sweep_is_one_usage_error_naming_the_file(change: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_sweep({**BASE, **change}, "my.toml")
    assert info.value.message.startswith("my.toml: ")


def test_missing_key_is_named() -> None:
    data = dict(BASE)
    del data["budget"]
    with pytest.raises(UsageError, match="'budget' is missing"):
        parse_sweep(data, "t.toml")


def test_unknown_model_is_refused_before_anything_runs() -> None:
    registries = build_registries(make_plugin_manager())
    with pytest.raises(UnknownNameError, match="cyclgan"):
        expand_trials(parse_sweep({**BASE, "models": ["cyclgan"]}, "t.toml"), registries)


def test_missing_and_invalid_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="No sweep file"):
        load_sweep(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_sweep(bad)


@pytest.mark.parametrize("path", sorted(SWEEPS.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_sweeps_expand_with_registered_components(path: Path) -> None:
    sweep = load_sweep(path)
    trials = expand_trials(sweep, build_registries(make_plugin_manager()))
    assert len(trials) == len(sweep.seeds) * len(sweep.datasets) * len(sweep.models)
    assert sweep.name == path.stem


def test_paper000_sweep_is_table5_on_kaggle_brain() -> None:
    sweep = load_sweep(SWEEPS / "paper000-table5.toml")
    assert {v.label: dict(v.args) for v in sweep.models} == TABLE5_ABLATION
    assert {v.name for v in sweep.models} == {"hlsnc"}
    assert [d.name for d in sweep.datasets] == ["kaggle-brain"] and sweep.image_size == 256


def test_paper002_sweep_is_table_iv_on_covid_ct_at_64_px() -> None:
    sweep = load_sweep(SWEEPS / "paper002-table4.toml")
    assert {v.label: dict(v.args) for v in sweep.models} == TABLE4_ABLATION
    assert [d.name for d in sweep.datasets] == ["covid-ct"] and sweep.image_size == 64
    assert sweep.metrics[0] == "fid"


def test_paper002_table2_sweep_runs_the_seven_models_on_the_three_datasets() -> None:
    from medganbench_plugins.references.paper002 import MODELS, TABLE2

    sweep = load_sweep(SWEEPS / "paper002-table2.toml")
    assert {v.label: v.name for v in sweep.models} == MODELS
    assert len(sweep.models) == len(TABLE2) == 7
    registries = build_registries(make_plugin_manager())
    assert all(v.name in registries.models for v in sweep.models)
    assert {d.name for d in sweep.datasets} == {"covid-ct", "acdc", "brats2018"}
    assert sweep.image_size == 64 and sweep.metrics[0] == "fid"


def test_seed_table_compares_every_translation_model_of_images() -> None:
    registries = build_registries(make_plugin_manager())
    # Of images: the seed table runs on phantom-brain; the 3-D translators have their own
    # track (sweeps/cpu-track-3d-translation.toml).
    translators = {
        e.spec.name
        for e in registries.models.entries()
        if e.spec.load().task is Task.TRANSLATE and e.spec.load().spatial_dims == 2
    }
    sweep = load_sweep(SWEEPS / "seed-table.toml")
    assert {v.name for v in sweep.models} == translators
    assert len(sweep.seeds) >= 3
