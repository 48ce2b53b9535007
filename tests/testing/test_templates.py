"""The templates of every kind, installed with pip as a separate package, pass the contract kit
through their entry points; a deliberately broken copy fails it, naming the broken contract."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from medganbench.cli import main
from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.testing import (
    KINDS,
    CheckSettings,
    check_component,
    components_of,
    contract_keys,
)
from tests.dataset_trees import patient_volumes, write_volume
from tests.testing.installs import TEMPLATE, cli_env, medganbench, pip_install

DISTRIBUTION = "medganbench-template"
#: The templates, by kind (a new one: its template module, its entry point in
#: examples/plugin_template/pyproject.toml, and a line here). Datasets have two: one generated,
#: one read from files (a folder of NIfTI patients, on the public data toolkit).
TEMPLATES = [
    ("model", "tiny-conv"),
    ("metric", "template-ncc"),
    ("dataset", "template-disks"),
    ("dataset", "template-patients"),
    ("weights", "template-edge-filter"),
    ("executor", "template-in-order"),
    ("encoder", "template-edges"),
    ("tracker", "template-jsonl"),
]
#: The file-backed dataset template a third party copies: its length is part of the promise.
PATIENTS_TEMPLATE = TEMPLATE / "medganbench_template" / "patients.py"
#: Contracts check-plugin skips: the weights file is only checked when given, and the generated
#: dataset template declares no label classes.
SKIPPED = 2


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template package, pip-installed into a folder of its own."""
    target = tmp_path_factory.mktemp("template") / "site"
    pip_install(TEMPLATE, target)
    return target


def test_the_package_registers_a_template_of_every_kind(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))
    pm = make_plugin_manager(autoload=True)
    found = components_of(pm, build_registries(pm), DISTRIBUTION)
    assert sorted(found) == sorted(TEMPLATES)
    assert {kind for kind, _ in TEMPLATES} == set(KINDS)
    assert {pm.origin_of(name).distribution for name in pm.origins if "template" in name} == {
        DISTRIBUTION
    }


def _patients_tree(root: Path) -> Path:
    """Four NIfTI patients in the file-backed template's layout, one with a lesion map."""
    for k in range(4):
        folder = root / f"Patient {k}"
        folder.mkdir(parents=True)
        volumes = patient_volumes(k)
        write_volume(folder / "t1.nii.gz", volumes["mr"])
        write_volume(folder / "t2.nii.gz", volumes["mr"].max() - volumes["mr"])
        write_volume(folder / "seg.nii.gz", volumes["mask"])
    return root


@pytest.mark.slow
def test_every_template_passes_check_plugin(site: Path, tmp_path: Path) -> None:
    env = cli_env(site)
    env["MEDGANBENCH_DATA_TEMPLATE_PATIENTS"] = str(_patients_tree(tmp_path / "patients"))
    # The encoder template builds with the weights template's file, named the way a user names
    # a file fetched by hand (the weights contract's own `loads` is checked only when given).
    env["MEDGANBENCH_WEIGHTS_TEMPLATE_EDGE_FILTER"] = str(
        site / "medganbench_template" / "edge_filter.safetensors"
    )
    done = medganbench("check-plugin", DISTRIBUTION, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for kind, name in TEMPLATES:
        assert any(line.startswith(f"ok      {kind} {name}  declares: ") for line in lines)
    assert not any(line.startswith("failed") for line in lines)
    checked = sum(len(contract_keys(kind)) for kind, _ in TEMPLATES) - SKIPPED
    summary = f"all {checked} contract(s) hold ({SKIPPED} skipped)."
    assert f"{DISTRIBUTION} ({len(TEMPLATES)} component(s)): {summary}" in lines


@pytest.mark.slow
def test_the_file_backed_dataset_template_is_short_and_passes_check(
    site: Path, tmp_path: Path
) -> None:
    assert len(PATIENTS_TEMPLATE.read_text().splitlines()) <= 80
    root = _patients_tree(tmp_path / "patients")
    args = ("--arg", f"root={root}")
    done = medganbench(
        "check", "dataset", "template-patients", *args, env=cli_env(site), cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok      dataset template-patients  labels: 2 classes" in done.stdout
    assert not any(line.startswith("failed") for line in done.stdout.splitlines())


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (``import a.b`` and ``from a.b import c`` both give a.b)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_file_backed_template_imports_only_the_public_api() -> None:
    imported = {m for m in _imported_modules(PATIENTS_TEMPLATE) if m.startswith("medganbench")}
    assert imported == {"medganbench.plugin"}


@pytest.mark.parametrize(
    "module", sorted(p.name for p in (TEMPLATE / "medganbench_template").glob("*.py"))
)
def test_every_template_imports_only_the_public_plugin_api(module: str) -> None:
    # What a third party copies must use only what medganbench promises to keep
    # (medganbench.plugin), besides the standard library, torch, numpy and its own package.
    allowed = set(sys.stdlib_module_names) | {"torch", "numpy", "medganbench_template"}
    imported = _imported_modules(TEMPLATE / "medganbench_template" / module)
    wrong = sorted(
        m
        for m in imported
        if m != "medganbench.plugin"
        and (m.startswith("medganbench.") or m.split(".")[0] not in allowed)
    )
    assert not wrong, f"{module} imports {wrong}; import from medganbench.plugin"


def test_the_weights_template_file_matches_its_pin_and_converts(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))
    registries = build_registries(make_plugin_manager(autoload=True))
    file = site / "medganbench_template" / "edge_filter.safetensors"
    results = check_component(
        "weights", "template-edge-filter", CheckSettings(weights_file=str(file)), registries
    )
    assert [(r.contract, r.status) for r in results] == [
        ("declares", "ok"),
        ("converters", "ok"),
        ("loads", "ok"),
    ]
    assert results[-1].detail == "edge_filter.safetensors converts to 1 tensor(s)"


def test_a_broken_copy_fails_check_naming_the_broken_contract(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    model = broken / "medganbench_template" / "model.py"
    # The copy forgets the optimiser's state when restored: a resumed run would diverge.
    restore = '        self.optimizer.load_state_dict(state["optimizer"])\n'
    assert restore in model.read_text()
    model.write_text(model.read_text().replace(restore, ""))
    # In this process (no second torch import): the copy alone, imported afresh.
    for module in [m for m in sys.modules if m.split(".")[0] == "medganbench_template"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.syspath_prepend(str(broken))
    monkeypatch.delenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD")
    done = CliRunner().invoke(main, ["check", "model", "tiny-conv"])
    assert done.exit_code == 1
    failed = [line for line in done.stdout.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and failed[0].startswith("failed  model tiny-conv  exact-resume: ")
    assert "optimiser state" in failed[0]
    assert "error: model 'tiny-conv' breaks 1 contract(s): model tiny-conv: exact-resume." in (
        done.stderr
    )
