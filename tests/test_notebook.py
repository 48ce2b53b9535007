"""The example notebook runs as a reader runs it: every code cell in order, in one namespace, in
a fresh process (the equivalent of nbmake without a Jupyter kernel), from an empty folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"

_RUNNER = """
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
namespace = {"__name__": "__main__"}
for index, cell in enumerate(cells):
    if cell["cell_type"] == "code":
        exec(compile("".join(cell["source"]), f"cell {index}", "exec"), namespace)
"""


@pytest.mark.slow
def test_the_quickstart_notebook_trains_plots_tabulates_and_exports(tmp_path: Path) -> None:
    notebook = json.loads(NOTEBOOK.read_text())
    assert all(not cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code")
    env = {**os.environ, "MPLBACKEND": "Agg", "MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(NOTEBOOK)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    work = tmp_path / "runs" / "quickstart"
    assert (work / "samples.png").stat().st_size > 1000
    assert sorted(p.name for p in (work / "export").iterdir()) == [
        "README.md", "generator.json", "generator.safetensors",
    ]  # fmt: skip
    assert (work / "leaderboards" / "phantom-brain.arrow").is_file()
