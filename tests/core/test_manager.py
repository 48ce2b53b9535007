"""Plugin loading: built-ins, entry points, check_pending, duplicates, autoload switch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from medganbench import __version__
from medganbench.core import manager
from medganbench.core.hookspecs import hookimpl
from medganbench.core.manager import (
    BUILTIN_PLUGINS,
    build_registries,
    make_plugin_manager,
    plugin_versions,
)
from medganbench.core.specs import ModelSpec
from medganbench.errors import DuplicateNameError, PluginError

MODEL_TEMPLATE = (
    Path(__file__).resolve().parents[2] / "examples/plugin_template/medganbench_template/model.py"
)


def _install_fake_distribution(
    root: Path, module_source: str, module: str = "fake_mgb_plugin"
) -> None:
    """Make a real (if minimal) installed distribution with a ``medganbench`` entry point."""
    (root / f"{module}.py").write_text(module_source)
    info = root / "fake_mgb_plugin-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-mgb-plugin\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[medganbench]\nfake = {module}\n")


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = MODEL_TEMPLATE.read_text()
    _install_fake_distribution(tmp_path, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtins_are_registered_in_order(pm) -> None:
    names = [name for name, _ in pm.list_name_plugin()]
    assert names == list(BUILTIN_PLUGINS)


def test_builtin_components_are_present(registries) -> None:
    assert {"identity", "intensity-lookup"} <= set(registries.models.names())
    assert "phantom-brain" in registries.datasets
    assert {"psnr", "ssim", "mae"} <= set(registries.metrics.names())


def test_entry_point_plugin_is_loaded(fake_dist: Path) -> None:
    pm = make_plugin_manager(autoload=True)
    registries = build_registries(pm)
    assert registries.models.entry("tiny-conv").plugin == "fake"
    assert ("fake", "fake-mgb-plugin 1.2.3") in plugin_versions(pm)


def test_environment_variable_disables_autoload(fake_dist: Path, monkeypatch) -> None:
    monkeypatch.setenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    registries = build_registries(make_plugin_manager())
    assert "tiny-conv" not in registries.models


def test_autoload_is_on_without_the_variable(fake_dist: Path, monkeypatch) -> None:
    monkeypatch.delenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    registries = build_registries(make_plugin_manager())
    assert "tiny-conv" in registries.models


MISSPELT = (
    "from medganbench.core.hookspecs import hookimpl\n"
    "@hookimpl\n"
    "def medganbench_model():  # should be medganbench_models\n"
    "    return []\n"
)


def _assert_names_no_path_or_repr(message: str, folder: Path) -> None:
    assert str(folder) not in message and "<module " not in message and " from '/" not in message


def test_misspelt_hook_is_caught_by_check_pending() -> None:
    class Misspelt:
        @hookimpl
        def medganbench_model(self) -> list[ModelSpec]:  # should be medganbench_models
            return []

    with pytest.raises(PluginError, match="did you mean 'medganbench_models'") as info:
        make_plugin_manager(autoload=False, extra=(Misspelt(),))
    assert info.value.message.startswith("The plugin 'Misspelt' (registered directly) ")
    assert "medganbench_datasets" in (info.value.hint or "")


def test_a_misspelt_hook_of_an_installed_plugin_names_its_package_and_the_hook_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_distribution(tmp_path, MISSPELT, module="misspelt_mgb_plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as info:
        make_plugin_manager(autoload=True)
    assert info.value.message == (
        "The plugin 'fake' (package fake-mgb-plugin 1.2.3, entry point fake = misspelt_mgb_plugin) "
        "implements unknown hook 'medganbench_model' (did you mean 'medganbench_models'?)."
    )
    _assert_names_no_path_or_repr(str(info.value), tmp_path)
    # Without strict, the others load and the plugin is listed as broken, with the same words.
    (broken,) = make_plugin_manager(autoload=True, strict=False).broken
    assert "did you mean 'medganbench_models'?" in broken.problem


def test_a_hook_taking_arguments_is_one_message_not_a_pluggy_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = MISSPELT.replace("medganbench_model():", "medganbench_models(config):")
    _install_fake_distribution(tmp_path, source, module="arguments_mgb_plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as info:
        make_plugin_manager(autoload=True)
    message = info.value.message
    assert message.startswith("The plugin 'fake' (package fake-mgb-plugin 1.2.3, entry point ")
    assert (
        "implements medganbench_models(config), but the hook passes no argument 'config'" in message
    )
    _assert_names_no_path_or_repr(str(info.value), tmp_path)


def test_a_misspelt_hook_of_a_module_registered_directly_names_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hand_made.py").write_text(MISSPELT)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    with pytest.raises(PluginError) as info:
        make_plugin_manager(autoload=False, extra=(importlib.import_module("hand_made"),))
    assert info.value.message.startswith(
        "The plugin 'hand_made' (registered directly) implements unknown hook 'medganbench_model'"
    )
    _assert_names_no_path_or_repr(str(info.value), tmp_path)


def test_a_misspelt_hook_in_a_builtin_plugin_names_the_module_and_medganbench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A built-in with a misspelt hook is medganbench's own bug: named by its module.
    (tmp_path / "builtin_like.py").write_text(MISSPELT)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(manager, "BUILTIN_PLUGINS", ("builtin_like",))
    with pytest.raises(PluginError) as info:
        make_plugin_manager(autoload=False)
    assert info.value.message == (
        f"The built-in plugin 'builtin_like' (medganbench {__version__}) implements unknown "
        "hook 'medganbench_model' (did you mean 'medganbench_models'?)."
    )
    _assert_names_no_path_or_repr(str(info.value), tmp_path)


def test_broken_entry_point_gives_plugin_error(tmp_path: Path, monkeypatch) -> None:
    _install_fake_distribution(
        tmp_path, "raise ImportError('missing dependency xyz')\n", module="broken_mgb_plugin"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="missing dependency xyz"):
        make_plugin_manager(autoload=True)


def test_duplicate_name_names_both_plugins() -> None:
    class Shadow:
        @hookimpl
        def medganbench_models(self) -> list[ModelSpec]:
            return [
                ModelSpec(
                    "identity", "again", "1", "medganbench_plugins.models.identity:IdentityModel"
                )
            ]

    pm = make_plugin_manager(autoload=False)
    pm.register(Shadow(), name="shadow-plugin")
    with pytest.raises(DuplicateNameError) as info:
        build_registries(pm)
    assert "medganbench_plugins.models.identity" in info.value.message
    assert "shadow-plugin" in info.value.message


def test_hook_returning_wrong_type_is_a_plugin_error() -> None:
    class Wrong:
        @hookimpl
        def medganbench_metrics(self) -> list:
            return [ModelSpec("x", "a model in the metric hook", "1", "a.b:c")]

    with pytest.raises(PluginError, match="expected MetricSpec"):
        build_registries(make_plugin_manager(autoload=False, extra=(Wrong(),)))


def test_each_call_builds_a_fresh_manager() -> None:
    assert make_plugin_manager(autoload=False) is not make_plugin_manager(autoload=False)


def test_template_is_a_valid_copyable_plugin(tmp_path: Path, monkeypatch) -> None:
    # The README tells newcomers to copy the template: a renamed copy must load as-is.
    shutil.copy(MODEL_TEMPLATE, tmp_path / "my_copy.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("my_copy")
    registries = build_registries(make_plugin_manager(autoload=False, extra=(module,)))
    assert registries.models.get("tiny-conv").load().__name__ == "TinyConvModel"


@pytest.mark.parametrize(
    ("name", "factory", "pattern"),
    [
        ("Bad Name", "a.b:c", "invalid"),
        ("ok-name", "no_colon", "module:attr"),
    ],
)
def test_malformed_spec_is_rejected(name: str, factory: str, pattern: str) -> None:
    with pytest.raises(PluginError, match=pattern):
        ModelSpec(name, "summary", "1", factory)


def test_unimportable_factory_is_a_plugin_error() -> None:
    spec = ModelSpec("ghost", "summary", "1", "no_such_module_xyz:Model")
    with pytest.raises(PluginError, match="cannot import"):
        spec.load()
