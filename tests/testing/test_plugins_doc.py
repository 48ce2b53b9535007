"""docs/plugins.md: its walkthrough, run command by command from an empty folder in a fresh
virtual environment, ends with a passing ``medganbench check`` and a leaderboard row."""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from medganbench.leaderboard.store import read_leaderboard
from medganbench.testing import KINDS, contract_keys
from tests.testing.installs import OFFLINE_PIP, ROOT

DOC = ROOT / "docs" / "plugins.md"
_BLOCK = re.compile(r"(?:<!-- (?P<marker>[^\n]*?) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def _blocks() -> list[tuple[str, str, str]]:
    """(marker, language, body) of every fenced block, in order."""
    return [
        (m["marker"] or "", m["lang"], m["body"]) for m in _BLOCK.finditer(DOC.read_text("utf-8"))
    ]


def _walkthrough_script(start: Path) -> str:
    """Every bash block not marked "not run", with the files the doc shows written in between."""
    lines = ["set -e"]
    for marker, lang, body in _blocks():
        if marker.startswith("file: "):
            path = start / marker.removeprefix("file: ")
            lines.append(f"cat > '{path}' <<'MEDGANBENCH_DOC_EOF'\n{body}MEDGANBENCH_DOC_EOF")
        elif lang == "bash" and not marker.startswith("not run: "):
            for command in body.splitlines():
                lines += [f"echo '$ {command}'", command]
    return "\n".join(lines) + "\n"


def test_every_bash_block_is_run_or_says_why_not() -> None:
    bash = [(marker, body) for marker, lang, body in _blocks() if lang == "bash"]
    not_run = [body for marker, body in bash if marker.startswith("not run: ")]
    assert len(bash) >= 3
    assert not_run == [
        "pip install -e examples/plugin_template\n"
        "medganbench check dataset template-patients --arg root=/data/my-patients\n",
        "python -m build\ntwine upload dist/*\n",
    ]
    assert all(not marker or marker.startswith("not run: ") for marker, _ in bash)


def test_the_doc_lists_every_contract_of_every_kind() -> None:
    text = DOC.read_text("utf-8")
    for kind in KINDS:
        section = text.split(f"**{kind}**", 1)[1].split("\n\n**", 1)[0].split("\n## ", 1)[0]
        listed = re.findall(r"^\| `([a-z-]+)` \|", section, re.M)
        assert listed == list(contract_keys(kind)), kind


def test_the_python_examples_import_what_exists() -> None:
    for _, lang, body in _blocks():
        if lang == "python":
            compile(body, str(DOC), "exec")
            for line in body.splitlines():
                if line.startswith("from medganbench"):
                    exec(line, {})


def author_venv(venv: Path) -> Path:
    """A fresh virtual environment that sees this environment's packages, as an author's own
    venv with medganbench installed would; returns its interpreter.

    ``--system-site-packages`` would expose the *base* interpreter's packages, not those of the
    environment the tests run in (a venv, a uv environment, or the base interpreter itself).
    So the new environment gets a ``.pth`` file adding this environment's site directories with
    ``site.addsitedir``, which also runs their ``.pth`` files (editable installs).
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    inner = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    paths = sysconfig.get_paths()
    outer = dict.fromkeys([paths["purelib"], paths["platlib"], *site.getsitepackages()])
    lines = [f"import site; site.addsitedir({p!r})" for p in outer if Path(p).is_dir()]
    (Path(inner) / "outer-environment.pth").write_text("\n".join(lines) + "\n")
    return python


def test_an_author_venv_sees_this_environments_packages(tmp_path: Path) -> None:
    python = author_venv(tmp_path / "venv")
    # pip runs build backends in processes of their own: import it apart from setuptools (pip
    # puts the standard library's distutils back, which setuptools refuses in one process).
    pip = subprocess.run([str(python), "-c", "import pip"], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    code = "import medganbench, medganbench_plugins, setuptools; print(setuptools.__version__)"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Offline, without build isolation, the walkthrough builds with this setuptools: it must make
    # wheels itself (a fresh venv's 65.5 has no bdist_wheel without the wheel package).
    major, minor = (int(x) for x in done.stdout.split(".")[:2])
    assert (major, minor) >= (70, 1)


@pytest.mark.slow
def test_the_walkthrough_runs_from_an_empty_folder_to_a_row(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = author_venv(venv)
    for command, module in (("pip", "pip"), ("medganbench", "medganbench")):
        shim = venv / "bin" / command
        shim.write_text(f'#!/bin/sh\nexec "{python}" -m {module} "$@"\n')
        shim.chmod(0o755)
    start = tmp_path / "work"
    start.mkdir()
    env = {**os.environ, **OFFLINE_PIP, "PYTHONPATH": str(ROOT)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env.pop("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    done = subprocess.run(
        ["bash", "-c", _walkthrough_script(start)],
        cwd=start,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "model 'one-conv': all 9 contract(s) hold." in done.stdout
    table = read_leaderboard(start / "my-medgan" / "runs" / "leaderboards" / "phantom-brain.arrow")
    rows = table.to_pylist()
    assert {(r["model"], r["metric"], r["image_size"]) for r in rows} == {
        ("one-conv", metric, 32) for metric in ("psnr", "ssim", "mae")
    }
    assert "one-conv" in done.stdout.split("$ medganbench leaderboard show")[1]
