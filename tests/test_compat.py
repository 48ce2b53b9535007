"""The import paths of 0.1 keep working until 0.4, each with a DeprecationWarning naming the new
path; a plugin written against them loads through the real plugin manager."""

from __future__ import annotations

import importlib
import importlib.machinery
import math
import sys
import warnings
from pathlib import Path

import pytest
import torch

import medganbench
from medganbench.compat import MOVED_MODULES, MOVED_NAMES, REMOVED_IN, module_message
from medganbench.core.dataset import SPLITS, DatasetInfo, DomainInfo
from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.model import Model, ModelContext, TrainBatch

PLUGIN = "tests.plugin_for_0_1"
#: Each old path the plugin imports → the module its warning must name (besides the public API).
PLUGIN_OLD_PATHS = {
    "medganbench.hookspecs": "medganbench.core.hookspecs",
    "medganbench.model": "medganbench.core.model",
    "medganbench.params": "medganbench.core.params",
    "medganbench.specs": "medganbench.core.specs",
    "medganbench.weights.UrlSource": "medganbench.weights.sources",
    "medganbench.weights.WeightsSpec": "medganbench.core.specs",
}


@pytest.fixture
def first_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the old modules (and the plugin), so that importing them runs, and warns, again."""
    for name in [*MOVED_MODULES, PLUGIN]:
        monkeypatch.delitem(sys.modules, name, raising=False)


def _deprecations(record: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in record if issubclass(w.category, DeprecationWarning)]


def test_a_plugin_written_for_0_1_loads_builds_and_trains(
    first_import: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installed as 0.1's docs said: a distribution with an entry point in the medganbench group.
    info = tmp_path / "old_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: old-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[medganbench]\nold = {PLUGIN}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(DeprecationWarning) as record:
        pm = make_plugin_manager(autoload=True)
    plugin = sys.modules[PLUGIN]
    assert pm.origin_of("old").describe() == (
        f"plugin 'old' (package old-plugin 0.1, entry point old = {PLUGIN})"
    )
    found = _deprecations(record)
    for old, new in PLUGIN_OLD_PATHS.items():
        # `from package import name` asks for the name twice (hasattr, then getattr).
        (message,) = {str(w.message) for w in found if str(w.message).startswith(f"{old} ")}
        assert message == (
            f"{old} is deprecated: import from medganbench.plugin (or {new}); "
            f"it will be removed in {REMOVED_IN}."
        )
    # Every warning points at the plugin's own import line, not at medganbench or importlib.
    assert {Path(w.filename) for w in found} == {Path(plugin.__file__ or "")}

    registries = build_registries(pm)
    assert registries.weights.get("old-weights").sources[0].convert.endswith(":load_tensors")
    mr = DomainInfo("MR", "MR", "a.u.", (0.0, 1.0))
    info = DatasetInfo(mr, mr, paired=True, splits=SPLITS, image_size=16)
    model = registries.models.get("old-conv").build(
        {}, ModelContext(16, info, torch.device("cpu"), 0)
    )
    assert isinstance(model, Model)
    images = torch.rand(2, 1, 16, 16) * 2 - 1
    mask = torch.ones(2, 1, 16, 16, dtype=torch.bool)
    losses = model.train_step(TrainBatch(images, images.flip(-1), mask, mask, paired=True))
    assert math.isfinite(losses["l1"])


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_every_removed_module_imports_with_its_names_and_one_warning(
    old: str, first_import: None
) -> None:
    with pytest.warns(DeprecationWarning) as record:
        __import__(old)  # an import statement's way in (importlib.import_module is a frame)
    module = sys.modules[old]
    assert [str(w.message) for w in _deprecations(record)] == [module_message(old)]
    assert Path(record[0].filename) == Path(__file__)
    for name, (home, attr) in MOVED_MODULES[old].targets().items():
        assert getattr(module, name) is getattr(importlib.import_module(home), attr), name
    assert sorted(module.__all__) == sorted(MOVED_MODULES[old].targets())


@pytest.mark.parametrize(
    ("package", "name"), [(p, n) for p, moved in MOVED_NAMES.items() for n in moved.targets()]
)
def test_every_name_of_a_module_that_became_a_package_still_resolves(
    package: str, name: str
) -> None:
    home, attr = MOVED_NAMES[package].targets()[name]
    with pytest.warns(DeprecationWarning, match=rf"^{package}\.{name}\b.*{home}") as record:
        value = getattr(importlib.import_module(package), name)
    assert value is getattr(importlib.import_module(home), attr)
    assert Path(record[0].filename) == Path(__file__)


def test_a_name_only_goes_to_the_public_api_when_it_is_there() -> None:
    with pytest.warns(DeprecationWarning) as record:
        from medganbench.weights import cached  # noqa: F401 - the weights manager's, not the toolkit's
    assert "medganbench.plugin" not in str(record[0].message)


def test_old_paths_never_shadow_a_real_module() -> None:
    # The finder comes last on sys.meta_path; and no old path is a module or package today.
    for old in MOVED_MODULES:
        leaf = old.rpartition(".")[2]
        assert importlib.machinery.PathFinder.find_spec(leaf, medganbench.__path__) is None, old
    for package, moved in MOVED_NAMES.items():
        folder = Path(importlib.import_module(package).__file__ or "").parent
        clashes = [n for n in moved.targets() if (folder / f"{n}.py").exists()]
        assert not clashes, f"{package}: these are submodules now: {clashes}"


def test_other_missing_paths_and_names_still_fail_as_usual() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("medganbench.no_such_module")
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        importlib.import_module("medganbench.weights").no_such_name  # noqa: B018
    # A real submodule, not yet imported, is still found through the package.
    from medganbench.leaderboard import merge_report  # noqa: F401


def test_the_plugin_guide_lists_every_old_path() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    section = doc.split("### Old import paths")[1].split("\n## ")[0]
    missing = [old for old in [*MOVED_MODULES, *MOVED_NAMES] if f"`{old}`" not in section]
    assert not missing
