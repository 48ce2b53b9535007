"""docs/plugins.md: its walkthrough, run command by command from an empty folder in a fresh
virtual environment, ends with a passing ``medganbench check`` and a leaderboard row."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
    assert not_run == ["python -m build\ntwine upload dist/*\n"]
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


@pytest.mark.slow
def test_the_walkthrough_runs_from_an_empty_folder_to_a_row(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
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
    assert "model 'one-conv': all 7 contract(s) hold." in done.stdout
    table = read_leaderboard(start / "my-medgan" / "leaderboards" / "phantom-brain.arrow")
    rows = table.to_pylist()
    assert {(r["model"], r["metric"], r["image_size"]) for r in rows} == {
        ("one-conv", metric, 32) for metric in ("psnr", "ssim", "mae")
    }
    assert "one-conv" in done.stdout.split("$ medganbench leaderboard show")[1]
