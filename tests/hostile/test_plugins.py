"""Point 10: a broken third-party plugin is one message naming its package and entry point.

Each test installs a real (minimal) distribution with a ``medganbench`` entry point on a path
that a real ``medganbench`` subprocess sees, as ``pip install`` of a plugin package would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile.conftest import assert_one_message, cli

GOOD_SPEC = (
    "from medganbench.core.hookspecs import hookimpl\n"
    "from medganbench.core.specs import ModelSpec\n"
    "SPEC = ModelSpec('tiny-extra', 'x', '1', 'medganbench_plugins.models.identity:IdentityModel')\n"
)

BROKEN = {
    "returns-one-spec": GOOD_SPEC + "@hookimpl\ndef medganbench_models():\n    return SPEC\n",
    "raises": GOOD_SPEC + "@hookimpl\ndef medganbench_models():\n    raise RuntimeError('boom')\n",
    "fails-to-import": "import a_dependency_that_is_not_installed\n",
    "misspelt-hook": GOOD_SPEC + "@hookimpl\ndef medganbench_model():\n    return [SPEC]\n",
    "hook-with-arguments": GOOD_SPEC
    + "@hookimpl\ndef medganbench_models(config):\n    return [SPEC]\n",
}
EXPECTED = {
    "returns-one-spec": "returned a ModelSpec, expected a list",
    "raises": "RuntimeError: boom",
    "fails-to-import": "failed to import",
    "misspelt-hook": "implements unknown hook 'medganbench_model' (did you mean 'medganbench_models'?)",
    "hook-with-arguments": "implements medganbench_models(config), but the hook passes no argument",
}


def _distribution(root: Path, source: str, name: str = "acme") -> dict[str, str]:
    """Install package ``acme-plugins 2.0`` with entry point ``acme = acme_plugin``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}_plugin.py").write_text(source)
    info = root / f"{name}_plugins-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-plugins\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text(f"[medganbench]\n{name} = {name}_plugin\n")
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": path, "MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD": ""}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_a_broken_plugin_is_one_message_naming_package_and_entry_point(
    tmp_path: Path, fault: str
) -> None:
    env = _distribution(tmp_path / "site", BROKEN[fault])
    proc = cli("list", "models", cwd=tmp_path, env=env)
    assert_one_message(proc)
    assert "acme-plugins 2.0" in proc.stderr and "entry point acme = acme_plugin" in proc.stderr
    # Rich wraps long lines: compare with the line breaks undone.
    assert EXPECTED[fault] in " ".join(proc.stderr.split())
    assert "MEDGANBENCH_DISABLE_PLUGINS=acme" in proc.stderr
    # Named by package and entry point, never by pluggy's repr of the module (an absolute path).
    assert "<module " not in proc.stderr and str(tmp_path) not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_plugins_lists_the_healthy_ones_and_marks_the_broken_one(
    tmp_path: Path, fault: str
) -> None:
    env = _distribution(tmp_path / "site", BROKEN[fault])
    proc = cli("plugins", cwd=tmp_path, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert any("medganbench_plugins.models.identity" in line and "ok" in line for line in lines)
    (acme,) = [line for line in lines if "acme-plugins 2.0" in line]
    assert "BROKEN" in acme
    assert "<module " not in proc.stdout and str(tmp_path) not in proc.stdout


@pytest.mark.slow
def test_disabling_one_plugin_leaves_the_others(tmp_path: Path) -> None:
    env = _distribution(tmp_path / "site", BROKEN["raises"])
    env["MEDGANBENCH_DISABLE_PLUGINS"] = "acme"
    listed = cli("list", "models", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "identity" in listed.stdout and "tiny-extra" not in listed.stdout
    shown = cli("plugins", cwd=tmp_path, env=env)
    assert shown.returncode == 0 and "disabled" in shown.stdout


@pytest.mark.slow
def test_a_healthy_plugin_is_loaded_after_the_builtins(tmp_path: Path) -> None:
    source = GOOD_SPEC.replace("'tiny-extra'", "'identity'") + (
        "@hookimpl\ndef medganbench_models():\n    return [SPEC]\n"
    )
    env = _distribution(tmp_path / "site", source)
    proc = cli("list", "models", cwd=tmp_path, env=env)
    assert_one_message(proc)
    # Built-ins register first, so the plugin that came second is the one named second.
    assert "'medganbench_plugins.models.identity' and 'acme'" in proc.stderr
