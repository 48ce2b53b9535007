"""Tables show the model arguments that differ from the defaults and name directions by modality."""

from __future__ import annotations

import json
from pathlib import Path

from medganbench.core.manager import Registries
from medganbench.core.params import canonical_json
from medganbench.leaderboard.naming import naming_for
from medganbench.leaderboard.render import markdown
from medganbench.leaderboard.store import read_leaderboard
from tests.leaderboard.rows import make_row, table_of

COMMITTED = Path(__file__).resolve().parents[2] / "leaderboards" / "phantom-brain.arrow"


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


CT_ONLY = {"dataset_args": json.dumps({"domain": "b"}), "dataset_fingerprint": "ctonly"}


def test_a_samplers_direction_is_named_noise_to_its_target(registries: Registries) -> None:
    table = table_of(make_row(model="dcgan", model_version="2", **CT_ONLY))
    text = markdown(table, naming=naming_for(table, registries))
    assert "· noise → CT ·" in text and "CT → CT" not in text


def test_scored_samples_are_named_by_the_task_their_arguments_record(
    registries: Registries,
) -> None:
    args = canonical_json({"direction": "a2b", "outputs_sha256": "0" * 64, "task": "sample"})
    table = table_of(make_row(model="my-gan", model_args=args, track="external", **CT_ONLY))
    assert "· noise → CT ·" in markdown(table, naming=naming_for(table, registries))


def test_a_group_of_samplers_and_translators_names_both(registries: Registries) -> None:
    table = table_of(
        make_row(run_id="gan", model="dcgan", model_version="2", **CT_ONLY),
        make_row(run_id="copy", **CT_ONLY),
    )
    text = markdown(table, naming=naming_for(table, registries))
    assert "· CT → CT (a2b) / noise → CT ·" in text


def test_a_non_learned_model_shows_no_precision_label(registries: Registries) -> None:
    table = table_of(make_row(precision="bf16-mixed"))
    text = markdown(table, naming=naming_for(table, registries))
    assert "| identity v1 | defaults |" in text and "bf16" not in text


def test_a_learned_model_keeps_its_precision_label(registries: Registries) -> None:
    row = {**_hlsnc_row(registries), "precision": "bf16-mixed"}
    table = table_of(row)
    assert "| defaults [bf16-mixed] |" in markdown(table, naming=naming_for(table, registries))


def test_the_committed_boards_unconditional_group_is_titled_noise_to_ct(
    registries: Registries,
) -> None:
    board = read_leaderboard(COMMITTED)
    text = markdown(board, naming=naming_for(board, registries))
    assert "· split test · noise → CT · data 2444cc8c" in text
    assert "CT → CT" not in text
