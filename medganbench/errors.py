"""Errors that reach the user as one clear message and an exit code, never a traceback.

Every error raised for bad input derives from :class:`MedganbenchError`. The CLI prints
``message`` (and ``hint`` where given) and exits with ``exit_code``: 2 for usage errors (unknown
names, bad syntax, a metric the dataset cannot supply), 1 for failures while running.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

#: Exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT = 130


class MedganbenchError(Exception):
    """Base class for errors that are the user's to fix.

    Args:
        message: what is wrong, in one sentence.
        hint: how to fix it; optional.
    """

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(MedganbenchError):
    """The command line or a spec asks for something that does not exist or cannot work."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A component name (model, dataset, metric, argument) is not known."""


class DuplicateNameError(MedganbenchError):
    """Two plugins register a component under the same name."""


class PluginError(MedganbenchError):
    """A plugin is malformed (a misspelt hook, a bad spec, a factory that does not import)."""


class DataError(MedganbenchError):
    """A dataset is missing, corrupt, or does not match its declared contract."""


class RunError(MedganbenchError):
    """Training or evaluation failed (for example a loss became NaN)."""


class LeaderboardError(MedganbenchError):
    """A leaderboard file cannot be read or written."""


class StorageError(MedganbenchError):
    """A folder the run must write into is unusable (a file, read-only, on a full disk)."""


class GeneratorFileError(MedganbenchError):
    """A run's or an export's generator files are missing, damaged, or not what they claim
    (a wrong hash, other tensor names or shapes, an unknown model or model version)."""


def unsafe_load_reason(exc: BaseException) -> str:
    """One line saying why a file could not be read safely, from a loader's long message.

    ``torch.load(weights_only=True)`` explains a refused global over a dozen lines (with advice
    to load the file unsafely, which this program never does); keep the line that names what
    the file holds.
    """
    text = str(exc).strip()
    for line in text.splitlines():
        if "Unsupported global" in line:
            detail = line.split("Unsupported global:", 1)[1].split(" was not", 1)[0].strip()
            return f"it holds Python objects, not just tensors ({detail})"
        if "unsupported GLOBAL" in line:
            detail = line.split("unsupported GLOBAL", 1)[1].split(" whose", 1)[0].strip()
            return f"it holds Python objects, not just tensors (GLOBAL {detail})"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first if len(first) <= 200 else first[:200] + "…"
