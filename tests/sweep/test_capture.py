"""What libraries print during a sweep goes to its log; only the display reaches the terminal.

The capture is exercised in a child process whose stderr is a pipe, as a terminal would be: the
test reads what reached the "terminal" and what reached the log.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

#: The tree under test, where the child process imports medganbench from.
TREE = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import os, subprocess, sys
    from pathlib import Path
    from medganbench.sweep.capture import CapturedOutput

    log = Path(sys.argv[1])
    before = log.read_bytes() if log.exists() else None
    with CapturedOutput() as captured:
        os.write(2, b"native before\\n")          # what Ray's C++ core does
        print("python before")                   # what Ray's error listener does
        captured.terminal.write("display line\\n")
        # Nothing is written before the output is kept.
        assert (log.read_bytes() if log.exists() else None) == before
        held = captured.text()
        captured.keep_at(log, "--- heading ---")
        subprocess.run(["sh", "-c", "echo child process >&2"], check=True)
        print("python after", file=sys.stderr)
    print("held: " + " | ".join(held.splitlines()), file=sys.stderr)
    """
)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        cwd=TREE,
        capture_output=True,
        text=True,
        check=True,
    )


def test_library_output_goes_to_the_log_and_the_display_to_the_terminal(tmp_path: Path) -> None:
    log = tmp_path / "sweeps" / "x.log"
    proc = _run(tmp_path, str(log))
    terminal = proc.stderr.splitlines() + proc.stdout.splitlines()
    assert terminal == ["display line", "held: native before | python before"]
    assert log.read_text().splitlines() == [
        "--- heading ---",
        "native before",
        "python before",
        "child process",
        "python after",
    ]


def test_a_log_is_appended_to_by_each_run(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    _run(tmp_path, str(log))
    _run(tmp_path, str(log))
    assert log.read_text().count("--- heading ---") == 2
