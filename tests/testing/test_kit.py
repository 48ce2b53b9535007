"""The contract kit on components that keep their contracts, and on ones that each break one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from medganbench.cli import main
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.errors import UsageError
from medganbench.testing import (
    CheckSettings,
    ContractViolation,
    assert_contracts,
    check_component,
    checks_for,
    contract_keys,
)
from tests.testing import fakes


@pytest.fixture(scope="module")
def registries() -> Registries:
    return build_registries(make_plugin_manager(autoload=False, extra=(fakes,)))


def _statuses(kind: str, name: str, registries: Registries) -> dict[str, str]:
    return {r.contract: r.status for r in check_component(kind, name, registries=registries)}


def test_a_model_without_inference_modules_skips_the_export_contract_saying_why(
    registries: Registries,
) -> None:
    results = {
        r.contract: r
        for r in check_component("model", "fake-exports-nothing", registries=registries)
    }
    assert results["export-round-trip"].status == "skipped"
    assert "inference_modules() is not declared" in results["export-round-trip"].detail
    assert all(r.status == "ok" for k, r in results.items() if k != "export-round-trip")


def test_a_sound_model_keeps_every_contract(registries: Registries) -> None:
    results = check_component("model", "fake-sound", registries=registries)
    assert [r.contract for r in results] == list(contract_keys("model"))
    assert all(r.status == "ok" for r in results), [r.line() for r in results]


@pytest.mark.parametrize(
    ("name", "contract", "says"),
    [
        ("fake-claims-to-learn-nothing", "declares", "learned is false"),
        ("fake-out-of-range", "output", "outside [-1, 1]"),
        # Its noise may move the losses or, when they round alike, only the outputs.
        ("fake-unseeded", "determinism", "the same seed gave"),
        ("fake-loses-the-bias", "state-round-trip", "other outputs after load_state_dict"),
        ("fake-pickles-an-object", "state-round-trip", "weights_only=True"),
        ("fake-exports-too-little", "export-round-trip", "inference_modules() weights"),
        ("fake-trains-too-little", "trained-modules", "trained_modules() hold 0 parameters"),
        ("fake-forgets-the-optimiser", "exact-resume", "optimiser state"),
    ],
)
def test_a_broken_model_fails_the_contract_it_breaks(
    registries: Registries, name: str, contract: str, says: str
) -> None:
    results = {r.contract: r for r in check_component("model", name, registries=registries)}
    keys = list(contract_keys("model"))
    assert all(results[k].status == "ok" for k in keys[: keys.index(contract)])
    assert results[contract].status == "failed" and says in results[contract].detail
    with pytest.raises(ContractViolation, match=f"model {name}  {contract}: "):
        assert_contracts("model", name, registries=registries)


def test_a_model_that_cannot_be_built_fails_every_contract_that_needs_it(
    registries: Registries,
) -> None:
    results = check_component("model", "fake-fails-to-build", registries=registries)
    assert (
        results[0].line() == "failed  model fake-fails-to-build  build: RuntimeError: no GPU found"
    )
    assert all(r.status == "failed" for r in results)
    assert results[2].detail == "not checked: needs build"


def test_a_metric_that_scores_nothing_as_zero_breaks_empty_compute(registries: Registries) -> None:
    statuses = _statuses("metric", "fake-zero-when-empty", registries)
    assert statuses.pop("empty-compute") == "failed"
    assert set(statuses.values()) == {"ok"}


def test_a_dataset_whose_fingerprint_changes_between_builds_is_caught(
    registries: Registries,
) -> None:
    statuses = _statuses("dataset", "fake-shifting", registries)
    assert statuses.pop("fingerprint") == "failed"
    assert statuses.pop("labels") == "skipped"  # it declares no label classes
    assert set(statuses.values()) == {"ok"}


def test_a_skipped_contract_says_why_and_an_unknown_one_is_refused(
    registries: Registries,
) -> None:
    settings = CheckSettings(skip={"exact-resume": "resumes from its own files"})
    results = check_component("model", "fake-forgets-the-optimiser", settings, registries)
    assert results[-1].status == "skipped" and results[-1].detail == "resumes from its own files"
    with pytest.raises(UsageError, match="A model has no contract 'exact-resum'"):
        check_component("model", "fake-sound", CheckSettings(skip={"exact-resum": "typo"}))


def test_pytest_checks_are_one_per_contract_and_fail_or_skip(registries: Registries) -> None:
    checks = checks_for(
        "model",
        ["fake-forgets-the-optimiser"],
        {"fake-forgets-the-optimiser": CheckSettings(skip={"determinism": "not here"})},
        registries,
    )
    assert [c.id for c in checks] == [
        f"model-fake-forgets-the-optimiser-{k}" for k in contract_keys("model")
    ]
    by_key = {c.contract: c for c in checks}
    assert by_key["build"]().status == "ok"
    with pytest.raises(pytest.skip.Exception, match="not here"):
        by_key["determinism"]()
    with pytest.raises(ContractViolation, match="exact-resume"):
        by_key["exact-resume"]()


@pytest.fixture
def fakes_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fakes as an installed distribution with an entry point, autoloaded."""
    info = tmp_path / "fake_components-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-components\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[medganbench]\nfakes = tests.testing.fakes\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD")


def test_check_prints_one_line_per_contract_and_exits_1_naming_the_broken_one(
    fakes_installed: None,
) -> None:
    done = CliRunner().invoke(main, ["check", "model", "fake-loses-the-bias"])
    assert done.exit_code == 1
    lines = done.stdout.splitlines()
    # The export and trained-modules contracts do not depend on state_dict: they still hold.
    assert [line.split()[0] for line in lines[:9]] == [
        "ok", "ok", "ok", "ok", "ok", "failed", "ok", "ok", "failed",
    ]  # fmt: skip
    assert lines[8].endswith("exact-resume: not checked: needs state-round-trip")
    assert (
        "error: model 'fake-loses-the-bias' breaks 2 contract(s): model fake-loses-the-bias: "
        "state-round-trip, model fake-loses-the-bias: exact-resume." in done.stderr
    )


def test_check_plugin_names_the_loaded_distributions_for_an_unknown_one(
    fakes_installed: None,
) -> None:
    done = CliRunner().invoke(main, ["check-plugin", "no-such-package"])
    assert done.exit_code == UsageError.exit_code
    assert "No plugin of a distribution named 'no-such-package'" in done.stderr
    assert "fake-components" in done.stderr


def test_check_refuses_a_contract_the_kind_does_not_have() -> None:
    done = CliRunner().invoke(main, ["check", "metric", "psnr", "--skip", "exact-resume"])
    assert done.exit_code == UsageError.exit_code
    assert "A metric has no contract 'exact-resume'" in done.stderr


def test_check_takes_more_probe_images_for_a_metric_that_needs_them() -> None:
    done = CliRunner().invoke(
        main, ["check", "metric", "mae", "--probe-dataset-arg", "slices_per_subject=5"]
    )
    assert done.exit_code == 0, done.output
    assert "finite: a noisy copy of 10 test images scores" in done.stdout
