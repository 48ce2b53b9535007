"""The ``medganbench`` command line (click + rich), one module per command group.

Exit codes: 0 success; 2 usage errors (unknown names, bad syntax, incompatible choices);
1 run failures; 130 interrupted. Errors the user can fix are printed as one message with a hint,
never a traceback (:class:`~medganbench.cli.common.CommandGroup`).

Owns: the commands, one module each (:mod:`~medganbench.cli.run`, :mod:`~medganbench.cli.sweep`,
:mod:`~medganbench.cli.listing`, :mod:`~medganbench.cli.leaderboard`,
:mod:`~medganbench.cli.datasets`, :mod:`~medganbench.cli.weights`, :mod:`~medganbench.cli.score`,
:mod:`~medganbench.cli.check`, :mod:`~medganbench.cli.show`, :mod:`~medganbench.cli.use`,
:mod:`~medganbench.cli.study`) and what they share
(:mod:`~medganbench.cli.common`).

May import: core, data, defaults, errors, fileio, leaderboard, run, site, study, sweep, testing,
trained, weights.
Nothing imports the CLI.
"""

from __future__ import annotations

import click

from medganbench import __version__
from medganbench.cli import (
    check,
    datasets,
    leaderboard,
    listing,
    run,
    score,
    show,
    study,
    sweep,
    use,
    weights,
)
from medganbench.cli.common import CommandGroup


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medganbench")
def main() -> None:
    """Fair benchmarks for GAN medical image synthesis: fixed budgets, splits and metrics."""


main.add_command(run.run)
main.add_command(score.score)
main.add_command(show.show)
main.add_command(sweep.sweep)
main.add_command(listing.list_components)
main.add_command(listing.plugins)
main.add_command(leaderboard.leaderboard)
main.add_command(datasets.datasets)
main.add_command(weights.weights)
main.add_command(check.check)
main.add_command(check.check_plugin)
main.add_command(use.generate)
main.add_command(use.translate)
main.add_command(use.export)
main.add_command(study.study)

__all__ = ["main"]
