"""``medganbench show RUN_DIR``: a compact text summary of one run folder."""

from __future__ import annotations

from pathlib import Path

import click

from medganbench.cli.common import load_registries, out
from medganbench.errors import UnknownNameError
from medganbench.run.summary import summarise


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
def show(run_dir: Path) -> None:
    """Summarise the run in RUN_DIR (runs/<run id>): its spec, where it stands (finished,
    not finished or diverged, and at which step), and the last value of every training loss and
    validation metric in its history, with each metric's best step."""
    registries = load_registries()

    def higher_is_better(name: str) -> bool | None:
        try:
            spec = registries.metrics.get(name)
        except UnknownNameError:
            return None
        higher = getattr(spec.load(), "higher_is_better", None)
        return higher if isinstance(higher, bool) else None

    for line in summarise(run_dir, higher_is_better):
        out.print(line, markup=False, highlight=False)
