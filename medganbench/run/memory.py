"""A model too large for the machine: one message suggesting smaller arguments, not a traceback.

A model's size follows its arguments (channel widths, bins, batch size) and the image size; a
typo such as ``ngf=10000000`` asks the allocator for hundreds of gigabytes. Declared maxima
(``Param(maximum=...)``) refuse the worst before anything is built; whatever still does not fit
ends here, while the model is built (:func:`out_of_memory_is_an_error` in
:mod:`~medganbench.run.prepare`) or while it trains (:mod:`~medganbench.run.train`), as an
:class:`OutOfMemory` error. A run folder that such a run created and that holds no checkpoint is
removed again (:func:`forget_new_run_dir`): nothing was recorded, nothing can be resumed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from medganbench.errors import RunError

#: What allocators say when they cannot allocate (torch's CPU and CUDA allocators, MPS, numpy).
_MESSAGES = (
    "out of memory",
    "can't allocate memory",
    "cannot allocate memory",
    "not enough memory",
)
_TRIED = re.compile(r"tried to allocate (\d+(?:\.\d+)? ?(?:bytes|[KMGTP]i?B))", re.IGNORECASE)


class OutOfMemory(RunError):
    """A model did not fit in memory, while it was built or trained."""


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says that memory could not be allocated."""
    if isinstance(exc, MemoryError | torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _MESSAGES)


@contextmanager
def out_of_memory_is_an_error(model: str, when: str) -> Iterator[None]:
    """Turn an allocation failure inside the block into :class:`OutOfMemory`.

    Args:
        model: the model's name, for the message.
        when: what was happening, e.g. ``"while it was built"``.

    Raises:
        OutOfMemory: the block ran out of memory; other exceptions pass unchanged.
    """
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        tried = _TRIED.search(str(exc))
        asked = f": it asked for {tried.group(1)}" if tried else ""
        raise OutOfMemory(
            f"Model {model!r} ran out of memory {when}{asked}; nothing was recorded.",
            hint="Give it smaller arguments (--model-arg: channel widths such as ngf/ndf/ch, "
            "bins, batch_size), a smaller --image-size, or a device with more memory "
            "(`medganbench list models --details` shows each argument's default).",
        ) from None


def forget_new_run_dir(run_dir: Path, created: bool, written: tuple[str, ...]) -> None:
    """Remove a run folder this run created, if it holds nothing but ``written`` files.

    A folder that was there before (``--resume``, an earlier attempt), or that now holds a
    checkpoint or anything else, is left as it is.
    """
    if not created:
        return
    try:
        if {p.name for p in run_dir.iterdir()} - set(written):
            return
        for name in written:
            (run_dir / name).unlink(missing_ok=True)
        run_dir.rmdir()
    except OSError:
        pass  # leaving an empty folder behind is no failure of the command
