"""The external track from the command line, as a user without a plugin would use it: export
the phantom test split, translate it with a script of their own, score the outputs, and see
them apart from budgeted runs in `leaderboard show` and on the site.

The commands run in this process (click's runner, the same entry point as the console script)
to spare a Python start-up each; the user's script runs as a real separate process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from medganbench.cli import main
from medganbench.leaderboard.store import read_leaderboard

SMALL = ["--image-size", "32", "--dataset-arg",
         "train_subjects=3,val_subjects=2,test_subjects=2,slices_per_subject=2"]  # fmt: skip
# The user's own code: reads each exported input, writes an intensity-inverted output (MR a.u.
# in 0..1 onto the CT window, bright becoming dark) under the same name.
TRANSLATE = textwrap.dedent(
    """
    import sys, pathlib
    import numpy as np
    src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    dst.mkdir()
    for path in sorted(src.glob("*.npy")):
        np.save(dst / path.name, (3000.0 - 4024.0 * np.load(path)).astype(np.float32))
    """
)


def _cli(work: Path, *args: str) -> Result:
    dirs = ["--leaderboard-dir", str(work / "lb")]
    if args[0] in ("run", "score"):
        dirs += ["--runs-dir", str(work / "runs")]
    return CliRunner().invoke(main, [*args, *dirs] if args[0] != "datasets" else list(args))


def _score(work: Path, outputs: str) -> Result:
    return _cli(work, "score", "--dataset", "phantom-brain", *SMALL, "--name", "my-unet",
                "--outputs", str(work / outputs))  # fmt: skip


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("external")
    export = _cli(work, "datasets", "export", "phantom-brain", *SMALL, "--out", str(work / "exp"))
    assert export.exit_code == 0, export.output
    translate = subprocess.run(
        [sys.executable, "-c", TRANSLATE, str(work / "exp" / "inputs"), str(work / "out")],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    assert translate.returncode == 0, translate.stderr
    trained = _cli(work, "run", "--model", "identity", *SMALL, "--budget", "steps=1",
                   "--no-progress")  # fmt: skip
    assert trained.exit_code == 0, trained.output
    score = _score(work, "out")
    assert score.exit_code == 0, score.output
    return work


def test_score_writes_external_rows_without_budget(scored: Path) -> None:
    rows = read_leaderboard(scored / "lb" / "phantom-brain.arrow").to_pylist()
    tracks = {(r["track"], r["model"], r["budget_steps"]) for r in rows}
    assert tracks == {("budgeted", "identity", 1), ("external", "my-unet", None)}


def test_show_lists_external_rows_apart_after_the_budgeted_ranking(scored: Path) -> None:
    show = _cli(scored, "leaderboard", "show", "--runs")
    assert show.exit_code == 0, show.output
    heading = show.output.index("Track external")
    assert show.output.index("identity v1") < heading < show.output.index("my-unet v1")


def test_the_site_shows_external_rows_in_their_own_section(scored: Path) -> None:
    site = _cli(scored, "leaderboard", "publish", "--out", str(scored / "site"),
                "--runs-dir", str(scored / "runs"))  # fmt: skip
    assert site.exit_code == 0, site.output
    page = (scored / "site" / "datasets" / "phantom-brain.html").read_text()
    external = page.index('<section id="external">')
    assert page.index("identity v1") < external < page.index("my-unet v1")
    (run_page,) = [
        p for p in (scored / "site" / "runs").glob("*.html") if "my-unet" in p.read_text()
    ]
    text = run_page.read_text()
    assert "<dt>track</dt><dd>external</dd>" in text
    assert "<dt>dataset provided by</dt><dd>medganbench " in text
    assert "medganbench score --dataset phantom-brain --outputs OUTPUTS --name my-unet" in text


def test_a_folder_with_one_missing_file_is_refused_naming_it(scored: Path) -> None:
    (scored / "incomplete").mkdir()
    for path in sorted((scored / "out").iterdir())[1:]:
        (scored / "incomplete" / path.name).write_bytes(path.read_bytes())
    before = (scored / "lb" / "phantom-brain.arrow").read_bytes()
    proc = _score(scored, "incomplete")
    assert proc.exit_code == 1 and proc.exception is not None
    assert isinstance(proc.exception, SystemExit)  # one message, no traceback
    assert "1 missing: 00000.npy (or .png)" in proc.output.replace("\n", " ")
    assert (scored / "lb" / "phantom-brain.arrow").read_bytes() == before


def test_list_shows_the_package_of_each_component(scored: Path) -> None:
    listed = CliRunner().invoke(main, ["list", "metrics"])
    assert listed.exit_code == 0, listed.output
    psnr = next(line for line in listed.output.splitlines() if line.startswith("│ psnr "))
    assert "medganbench 0." in psnr
