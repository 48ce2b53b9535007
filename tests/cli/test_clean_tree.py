"""The README's main command leaves a clone's working tree as it was (issue 30, point 1).

The test clones this repository, makes the virtual environment the command makes, and runs the
command's medganbench part in the clone with this environment's medganbench — at a test's size
(32 px, a tiny phantom, one step) instead of the main job's budget: where results are written
does not depend on the size. ``git status --porcelain`` must then be empty: the rows go to
``runs/leaderboards``, the run to ``runs/``, both ignored, and the committed
``leaderboards/phantom-brain.arrow`` is untouched.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.folders import the_run_folder

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--image-size", "32", "--budget", "steps=1", "--dataset-arg",
        "train_subjects=2,val_subjects=2,test_subjects=2,slices_per_subject=2"]  # fmt: skip


def _main_command() -> list[list[str]]:
    """The medganbench commands of the README's first bash block (after the install)."""
    block = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)[0]
    parts = [shlex.split(part) for part in block.strip().split("&&")]
    return [words for words in parts if words[0] == "medganbench"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_main_command_leaves_the_working_tree_clean(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(clone / ".venv")], check=True
    )
    commands = _main_command()
    assert [c[:2] for c in commands] == [["medganbench", "run"], ["medganbench", "leaderboard"]]
    # The code under test is this environment's medganbench, not the clone's copy that
    # ``python -m`` would find first in the working directory (they differ before a commit).
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    for words in commands:
        extra = TINY if words[1] == "run" else []
        done = subprocess.run(
            [sys.executable, "-m", *words, *extra], cwd=clone, env=env, capture_output=True,
            text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "hlsnc" in done.stdout  # the leaderboard shown is the user's own run
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
    assert list((clone / "runs" / "leaderboards").glob("*.arrow"))
    # The finished run kept its result, not its checkpoint (--keep-checkpoint keeps it).
    run = the_run_folder(clone / "runs")
    assert (run / "result.json").is_file() and not (run / "checkpoint.pt").exists()
