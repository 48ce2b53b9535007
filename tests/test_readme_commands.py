"""The README's two commands: each makes and uses a virtual environment, and CI runs exactly the
second one (issue 39: users install into a venv, so CI must too)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = "python3 -m venv .venv && . .venv/bin/activate && "


def _commands() -> list[str]:
    """The README's first two bash blocks (the main command, the test command)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [body.strip() for body in re.findall(r"```bash\n(.*?)```", text, re.S)[:2]]


def test_both_commands_make_and_use_a_virtual_environment() -> None:
    main, tests = _commands()
    assert main.startswith(VENV) and "medganbench run" in main
    assert tests.startswith(VENV) and tests.endswith("python3 -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert script[-1] == _commands()[1]


def test_the_environment_stays_out_of_git() -> None:
    assert ".venv/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
