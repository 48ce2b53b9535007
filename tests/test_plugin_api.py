"""The public plugin API, ``medganbench.plugin``: complete, re-exports only, and cheap to import."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import medganbench
import medganbench.data
import medganbench.plugin
from medganbench.core import model, specs
from medganbench.plugin import __all__ as public_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves() -> None:
    missing = [name for name in public_names if not hasattr(medganbench.plugin, name)]
    assert not missing
    assert len(set(public_names)) == len(public_names)
    assert set(dir(medganbench.plugin)) >= set(public_names)


def test_a_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from medganbench.plugin import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(public_names)


def test_the_names_are_the_objects_of_their_homes_not_copies() -> None:
    # isinstance checks in the harness (a spec's type, a factory's base class) see one class.
    assert medganbench.plugin.ModelSpec is specs.ModelSpec
    assert medganbench.plugin.Model is model.Model
    assert medganbench.plugin.read_volume is medganbench.data.read_volume


def test_the_plugin_guide_lists_exactly_the_public_names() -> None:
    doc = (ROOT / "docs" / "plugins.md").read_text()
    table = doc.split("<!-- the names of medganbench.plugin.__all__ -->")[1]
    table = table.split("<!-- end of the names -->")[0]
    listed = [
        name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[2])
    ]
    assert sorted(listed) == sorted(public_names)
    assert len(listed) == len(set(listed))


def test_the_whole_data_toolkit_is_public_through_it() -> None:
    assert set(medganbench.data.__all__) <= set(public_names)


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(medganbench.plugin, "no_such_name")


@pytest.mark.slow
def test_importing_it_leaves_the_toolkit_executors_and_weights_unimported() -> None:
    # What a plugin pays for `import medganbench.plugin` beyond the contracts (torch): nothing
    # heavy until a name is used. A fresh interpreter, since this one has imported everything.
    code = (
        "import sys, medganbench.plugin\n"
        "heavy = ('pyarrow', 'nibabel', 'pydicom', 'medganbench.data.reader',"
        " 'medganbench.sweep.executor', 'medganbench.weights.store', 'medganbench.run')\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "medganbench.plugin.read_volume\n"
        "print('medganbench.data.reader' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True"], done.stdout + done.stderr


def test_the_version_is_semver_written_once_and_in_the_changelog() -> None:
    # The promise is stated in terms of this number: one place, MAJOR.MINOR.PATCH, explained.
    assert re.fullmatch(r"\d+\.\d+\.\d+", medganbench.__version__)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "medganbench.__version__"}
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"\n## {medganbench.__version__} " in changelog
