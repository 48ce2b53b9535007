"""Installing a plugin package the way an author does, into a folder of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "examples" / "plugin_template"

#: pip without the network: no index, no dependencies (medganbench is already installed), and
#: the build backend of this environment rather than an isolated one fetched from an index.
OFFLINE_PIP = {
    "PIP_NO_INDEX": "1",
    "PIP_NO_DEPS": "1",
    "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling of "no build isolation"
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


def pip_install(package: Path, target: Path) -> None:
    """``pip install --target`` of a copy of ``package`` (building in place would write into
    the repository)."""
    source = target.parent / f"{package.name}-source"
    shutil.copytree(package, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    command = [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), str(source)]
    subprocess.run(command, check=True, env={**os.environ, **OFFLINE_PIP}, capture_output=True)


def cli_env(*paths: Path) -> dict[str, str]:
    """The environment of a ``medganbench`` subprocess that sees ``paths`` and autoloads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), str(ROOT)])
    env.pop("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    return env


def medganbench(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m medganbench ARGS`` in a subprocess."""
    command = [sys.executable, "-m", "medganbench", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
