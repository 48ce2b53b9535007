"""One process of a sweep trial on several devices (started by torchrun; see
:mod:`medganbench.sweep.device_trial`): run the trial, and on process 0 write its outcome."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from medganbench.leaderboard.store import append_rows
from medganbench.run.distributed import launched_world
from medganbench.sweep.device_trial import (
    OUTCOME_NAME,
    REQUEST_NAME,
    ROWS_NAME,
    request_from_json,
)
from medganbench.sweep.trial import run_trial


def main(folder: Path) -> None:
    """Run the trial of ``folder``'s request; process 0 writes the outcome into ``folder``."""
    request = request_from_json(json.loads((folder / REQUEST_NAME).read_text()))
    outcome = run_trial(request, lambda event: None)
    if not launched_world().main:
        return
    if outcome.rows:
        append_rows(folder / ROWS_NAME, outcome.rows)
    (folder / OUTCOME_NAME).write_text(
        json.dumps(
            {
                "status": outcome.status,
                "error": outcome.error,
                "resumed_from_step": outcome.resumed_from_step,
            }
        )
    )


if __name__ == "__main__":  # pragma: no cover - run by torchrun in the trial's processes
    main(Path(sys.argv[1]))
