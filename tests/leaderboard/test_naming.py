"""Tables show the model arguments that differ from the defaults and name directions by modality."""

from __future__ import annotations

import json

from medganbench.core.manager import Registries
from medganbench.core.params import canonical_json
from medganbench.leaderboard.naming import naming_for
from medganbench.leaderboard.render import markdown
from tests.leaderboard.rows import make_row, table_of


def _hlsnc_row(registries: Registries, **changed: object) -> dict[str, object]:
    spec = registries.models.get("hlsnc")
    args = {**{p.name: p.default for p in spec.params}, **changed}
    return make_row(model="hlsnc", model_version=spec.version, model_args=canonical_json(args))


def test_only_arguments_that_differ_from_the_defaults_are_listed(registries: Registries) -> None:
    table = table_of(_hlsnc_row(registries, n_blocks=3))
    text = markdown(table, naming=naming_for(table, registries))
    args_cell = text.split("| hlsnc v")[1].split("|")[1].strip()
    assert args_cell == "n_blocks=3"
    assert "differ from the model's defaults" in text
    every = markdown(table, naming=naming_for(table, registries, all_args=True))
    assert len(every.split("| hlsnc v")[1].split("|")[1].split()) > 10


def test_a_run_at_the_defaults_says_so(registries: Registries) -> None:
    table = table_of(_hlsnc_row(registries))
    assert "| defaults |" in markdown(table, naming=naming_for(table, registries))


def test_another_model_version_shows_every_argument(registries: Registries) -> None:
    row = _hlsnc_row(registries, n_blocks=3)
    row["model_version"] = "0-old"
    table = table_of(row)
    text = markdown(table, naming=naming_for(table, registries))
    assert len(text.split("| hlsnc v0-old |")[1].split("|")[0].split()) > 10


def test_directions_are_named_by_the_datasets_modalities(registries: Registries) -> None:
    table = table_of(
        make_row(direction="a2b"),
        make_row(direction="b2a2b", run_id="cycle"),
        make_row(dataset_args=json.dumps({"domain": "b"}), dataset_fingerprint="ctonly"),
    )
    text = markdown(table, naming=naming_for(table, registries))
    assert "· MR → CT (a2b) ·" in text and "· CT → MR → CT (b2a2b) ·" in text
    assert "· CT → CT (a2b) ·" in text
    # Without registries (or for an unknown dataset) the code stays as it is.
    assert "· a2b ·" in markdown(table)
