"""The options of ``medganbench run`` that say what a run records while it trains: validation
during training, the checkpoint protocol, the loss history's spacing and the trackers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from medganbench.run.options import DEFAULT_LOG_EVERY

F = TypeVar("F", bound=Callable[..., object])

_OPTIONS = [
    click.option(
        "--eval-every",
        default=None,
        type=click.IntRange(min=1),
        metavar="STEPS",
        help="Evaluate the run's metrics on the validation split every STEPS steps (and at the last "
        "step) during training; the values go to runs/<id>/history.arrow. Evaluation time, not "
        "budget.",
    ),
    click.option(
        "--select",
        default="final",
        show_default=True,
        metavar="final|best:METRIC",
        help="Which checkpoint is scored: the weights at the end of the budget, or the checkpoint "
        "with the best validation value of METRIC (needs --eval-every; in the run id, and the rows' "
        "protocol is best:METRIC@val).",
    ),
    click.option(
        "--log-every",
        default=DEFAULT_LOG_EVERY,
        show_default=True,
        type=click.IntRange(min=1),
        metavar="STEPS",
        help="Steps between two records of the training losses in the history.",
    ),
    click.option(
        "--tracker",
        "trackers",
        multiple=True,
        metavar="NAME",
        help="Mirror the history and sample grids to a tracker (tensorboard, mlflow; see "
        "`medganbench list trackers`); repeatable.",
    ),
]


def training_record_options(command: F) -> F:
    """Add ``--eval-every``, ``--select``, ``--log-every`` and ``--tracker`` to ``command``."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command
