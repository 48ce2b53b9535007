"""Bad input under a strict or lenient policy: one message, or a count that is never hidden.

A dataset reads files the user did not write. Each unusable file (or patient) is reported with
:meth:`InputProblems.add`: in strict mode (the default) the first one stops the run with one
:class:`~medganbench.errors.DataError` naming the file and the problem; in lenient mode
(``--dataset-arg strict=false``) it is skipped, counted and named in a warning, so a dataset
never shrinks silently. Readers raise :class:`DataFileError` with a few words saying what is
wrong (never a header value such as a patient id); the caller adds where.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from medganbench.errors import DataError

log = logging.getLogger(__name__)

#: The hint of a strict-mode problem.
LENIENT_HINT = (
    "Fix or remove the file, or pass --dataset-arg strict=false to skip bad files (they are "
    "counted)."
)


class DataFileError(DataError):
    """One file or patient cannot be used; ``message`` says why in a few words.

    The message names the problem, never a value read from the file's header (a DICOM
    PatientID, a date, a geometry value): the caller prefixes the file's path relative to the
    data root, which is the user's own.
    """


@dataclass
class InputProblems:
    """Collects unusable files or patients under a strict or lenient policy.

    Attributes:
        strict: raise on the first problem (``True``) or collect them.
        problems: (where, problem) pairs collected in lenient mode, in order.
    """

    strict: bool = True
    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, problem: str) -> None:
        """Record that ``where`` (a path relative to the root) is unusable because ``problem``.

        Raises:
            DataError: in strict mode.
        """
        if self.strict:
            raise DataError(f"{where}: {problem}", hint=LENIENT_HINT)
        self.problems.append((where, problem))

    def summary(self, limit: int = 5) -> str:
        """One line: how many problems there were, naming the first ``limit``."""
        return summarize(self.problems, limit)

    def records(self) -> list[list[str]]:
        """The problems as plain lists (what a slice cache stores)."""
        return [[where, problem] for where, problem in self.problems]


def summarize(problems: Sequence[tuple[str, str]], limit: int = 5) -> str:
    """One line naming how many problems there were and the first few."""
    if not problems:
        return "no input problems"
    shown = "; ".join(f"{w}: {p}" for w, p in problems[:limit])
    more = f" (+{len(problems) - limit} more)" if len(problems) > limit else ""
    return f"{len(problems)} input problem(s), skipped or recorded: {shown}{more}"


def from_records(records: Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    """(where, problem) pairs from :meth:`InputProblems.records` output (e.g. a cached payload)."""
    return [(str(where), str(problem)) for where, problem in records]


def warn_problems(owner: str, problems: Sequence[tuple[str, str]]) -> None:
    """Log one warning naming the skipped or recorded problems, if there are any."""
    if problems:
        log.warning("%s: %s", owner, summarize(problems))


__all__ = [
    "LENIENT_HINT",
    "DataFileError",
    "InputProblems",
    "from_records",
    "summarize",
    "warn_problems",
]
