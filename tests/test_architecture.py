"""The code's shape: the import rules each subpackage's docstring states, and small modules.

Every subpackage of ``medganbench`` and of the built-in plugins (``plugins/``, imported as
``medganbench_plugins``) ends its docstring with ``May import: a, b, c.``; these tests read that
line and check it against the imports the code really makes, so the docstrings and the code
cannot drift apart. For a plugin subpackage the names are subpackages of ``medganbench`` (its
public API) or sibling plugin subpackages. Imports under ``if TYPE_CHECKING:`` are annotations
only and do not count.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "medganbench"
PLUGINS = ROOT / "plugins"
#: Modules shared by every subpackage (and by plugins), and the root package (its ``__version__``). ``compat``
#: serves the old import paths (the packages that replaced a 0.1 module call it for that
#: module's names); it imports nothing of medganbench by name, so it cannot make a circle.
SHARED = {"errors", "defaults", "fileio", "interrupts", "compat", "progress", ""}
#: Top-level modules that sit *above* the subpackages: the public API for plugin authors
#: (``medganbench.plugin``, which re-exports from core, data, sweep and weights) and the
#: ``python -m medganbench`` entry point. Nothing under ``medganbench/`` or ``plugins/`` may import
#: them: the API would otherwise be an import circle in waiting, and the built-in plugins ship
#: with the core, so they use its modules directly.
ON_TOP = {"plugin", "api", "__main__"}
#: A module longer than this is doing more than one job.
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "plugins":  # the folder is installed as the medganbench_plugins package
        parts[0] = "medganbench_plugins"
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
PLUGIN_MODULES = {_module_name(p): p for p in sorted(PLUGINS.rglob("*.py"))}
ALL_MODULES = {**MODULES, **PLUGIN_MODULES}
SUBPACKAGES = sorted(
    p.parent.name for p in PACKAGE.glob("*/__init__.py") if p.parent.name != "__pycache__"
)
PLUGIN_SUBPACKAGES = sorted(
    p.parent.name for p in PLUGINS.glob("*/__init__.py") if p.parent.name != "__pycache__"
)


def _imports(path: Path) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """(module imported from, names imported, line) for every runtime import in ``path``."""

    class Visitor(ast.NodeVisitor):
        found: list[tuple[str, tuple[str, ...], int]] = []

        def visit_If(self, node: ast.If) -> None:
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
            for child in node.orelse if name == "TYPE_CHECKING" else node.body + node.orelse:
                self.visit(child)

        def visit_Import(self, node: ast.Import) -> None:
            for alias in node.names:
                self.found.append((alias.name, (), node.lineno))

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module is not None and node.level == 0:
                names = tuple(a.name for a in node.names)
                self.found.append((node.module, names, node.lineno))

    visitor = Visitor()
    visitor.found = []
    visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
    yield from visitor.found


def _targets(module: str, names: tuple[str, ...]) -> set[str]:
    """The medganbench and built-in plugin modules an import statement depends on."""
    targets = set()
    for name in names or ("",):
        full = f"{module}.{name}" if name else module
        targets.add(full if full in ALL_MODULES else module)
    return {t for t in targets if t in ALL_MODULES}


def _graph(modules: dict[str, Path] = ALL_MODULES) -> dict[str, set[str]]:
    return {
        name: {t for module, names, _ in _imports(path) for t in _targets(module, names)} - {name}
        for name, path in modules.items()
    }


def _area(module: str) -> str:
    """``medganbench.run.train`` → ``run``; ``medganbench.errors`` → ``errors``; root → ``""``;
    ``medganbench_plugins.models.cycle`` → ``plugins.models``."""
    parts = module.split(".")
    if parts[0] == "medganbench_plugins":
        return "plugins." + parts[1] if len(parts) > 1 else "plugins"
    return parts[1] if len(parts) > 1 else ""


def _may_import(package: str) -> set[str]:
    doc = importlib.import_module(package).__doc__ or ""
    match = re.search(r"May import: ([^.]*)\.", doc)
    assert match, f"{package}'s docstring has no 'May import: ...' line"
    return {word.strip() for word in match.group(1).split(",") if word.strip()}


def test_there_is_no_import_circle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import circle: " + " → ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_subpackage_imports_only_what_its_docstring_allows(package: str) -> None:
    allowed = _may_import(f"medganbench.{package}") | SHARED | {package}
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _graph(MODULES).items()
        if _area(module) == package
        for target in targets
        if _area(target) not in allowed
    )
    assert not wrong, f"medganbench.{package} may import only {sorted(allowed - SHARED)}: {wrong}"


@pytest.mark.parametrize("package", PLUGIN_SUBPACKAGES)
def test_plugin_subpackage_imports_only_what_its_docstring_allows(package: str) -> None:
    # Names are medganbench subpackages, or sibling plugin subpackages (as "plugins.nn").
    named = _may_import(f"medganbench_plugins.{package}")
    allowed = named | {f"plugins.{n}" for n in named} | SHARED | {f"plugins.{package}"}
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _area(module) == f"plugins.{package}"
        for target in targets
        if _area(target) not in allowed
    )
    assert not wrong, f"plugins/{package} may import only {sorted(named)}: {wrong}"


@pytest.mark.parametrize("package", [*SUBPACKAGES, *(f"plugins.{p}" for p in PLUGIN_SUBPACKAGES)])
def test_subpackage_docstring_says_what_it_owns(package: str) -> None:
    name = package.replace("plugins.", "medganbench_plugins.", 1)
    doc = importlib.import_module(name if "." in package else f"medganbench.{package}").__doc__
    assert "Owns:" in (doc or ""), f"{name}'s docstring does not say what it owns"


def test_every_top_level_module_is_shared_or_on_top() -> None:
    # A new top-level module must say which it is: usable by every subpackage, or above them all.
    top = {
        _area(name) for name in MODULES if name.count(".") == 1 and _area(name) not in SUBPACKAGES
    }
    assert top <= SHARED | ON_TOP, f"classify in SHARED or ON_TOP: {sorted(top - SHARED - ON_TOP)}"


def test_shared_modules_import_only_shared_modules() -> None:
    # What every subpackage may import must not itself reach into a subpackage.
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _graph(MODULES).items()
        if _area(module) in SHARED and module.count(".") <= 1
        for target in targets
        if _area(target) not in SHARED
    )
    assert not wrong


def test_nothing_inside_imports_the_modules_on_top() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _area(module) not in ON_TOP
        for target in targets
        if _area(target) in ON_TOP
    )
    assert not wrong, f"only plugins outside medganbench import {sorted(ON_TOP)}: {wrong}"


def test_the_core_never_imports_the_builtin_plugins() -> None:
    offenders = [
        f"{name}:{line}"
        for name, path in MODULES.items()
        for module, _, line in _imports(path)
        if module.split(".")[0] == "medganbench_plugins"
    ]
    assert not offenders


@pytest.mark.parametrize("tree", ["medganbench", "plugins"])
def test_no_module_is_over_the_size_limit(tree: str) -> None:
    long = {
        name: n
        for name, path in (MODULES if tree == "medganbench" else PLUGIN_MODULES).items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


@pytest.mark.parametrize("tree", ["medganbench", "plugins", "examples", "tests"])
def test_no_private_name_is_imported_across_modules(tree: str) -> None:
    private = [
        f"{path.relative_to(ROOT)}:{line} imports {name} from {module}"
        for path in sorted((ROOT / tree).rglob("*.py"))
        for module, names, line in _imports(path)
        if module.split(".")[0] in ("medganbench", "medganbench_plugins", "tests")
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not private
