"""A run's trackers: opened before training, fed its history and sample grids, closed after.

:func:`open_trackers` builds the trackers a run names (``--tracker tensorboard``) into a
:class:`TrackerSet`, which the training loop calls as one tracker. Everything that can be wrong
with a tracker that is asked for fails here, before training, as one message: an unknown name
(:class:`~medganbench.errors.UnknownNameError`, with close names), arguments that do not
resolve, a package that is not installed or a store that cannot be reached
(:class:`~medganbench.errors.UsageError`, naming ``pip install 'medganbench[tensorboard]'``),
or a tracker whose constructor fails in another way (:class:`~medganbench.errors.PluginError`).

Once training has started, a tracker can no longer lose the run. Trackers mirror what the run
keeps anyway (``runs/<id>/history.arrow``, the sample grids), so a tracker that raises while
logging is reported once through ``on_status`` and gets nothing more from this run, while the
run and every other tracker go on; :meth:`TrackerSet.close` closes every tracker, the failed
ones too, and reports a failing ``close()`` the same way instead of raising, so a tracker never
costs the run its leaderboard row. ``KeyboardInterrupt`` (Ctrl-C) is never caught.

A run without trackers gets an empty set: every call returns at once, and no tracker's package
is imported. Tracker calls run in the caller's thread: a caller that meters training time keeps
them out of it, as it keeps evaluation out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from medganbench.core.history import HistoryRecord
from medganbench.core.manager import Registries
from medganbench.core.params import ArgValue
from medganbench.core.specs import TrackerSpec
from medganbench.core.tracker import Tracker, TrackerContext
from medganbench.errors import MedganbenchError, PluginError, UsageError


def _silent(message: str) -> None:
    """The default status sink: says nothing."""


def _one_line(exc: BaseException) -> str:
    """``"OSError: disk full"``: an exception as one line of a status message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TrackerSet:
    """The opened trackers of one run, called as one (see the module for the failure policy).

    Args:
        trackers: (name, opened tracker) pairs, in the order the run named them.
        on_status: where a tracker's failure is reported, once per tracker.
    """

    def __init__(
        self,
        trackers: Sequence[tuple[str, Tracker]] = (),
        on_status: Callable[[str], None] = _silent,
    ) -> None:
        self._all: dict[str, Tracker] = dict(trackers)
        # The trackers still fed; one that failed is dropped from here, never from _all, so
        # that close() still releases what it holds.
        self._live: dict[str, Tracker] = dict(trackers)
        self._on_status = on_status
        self._closed = False

    @property
    def names(self) -> tuple[str, ...]:
        """The trackers still being fed, in order (failed and closed ones left out)."""
        return tuple(self._live)

    def __len__(self) -> int:
        """How many trackers are still fed: ``if trackers:`` skips work made only for them."""
        return len(self._live)

    def log_records(self, records: Sequence[HistoryRecord]) -> None:
        """Hand a batch of new history records, in step order, to every live tracker.

        An empty batch is not passed on. Never raises for a tracker's failure.
        """
        if not self._live or not records:
            return
        batch = tuple(records)
        for name, tracker in list(self._live.items()):
            try:
                tracker.log_records(batch)
            except Exception as exc:  # noqa: BLE001 - a tracker cannot lose the run
                self._drop(name, "log_records", exc)

    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        """Hand one sample grid to every live tracker.

        Args:
            tag: ``"val/samples"`` (every ``--eval-every`` step), ``"samples"`` or
                ``"samples-<direction>"`` (the final grids).
            step: the training step it shows.
            image: (H, W, 3) uint8 RGB; each tracker gets the same read-only copy.

        Raises:
            ValueError: ``image`` is not (H, W, 3) uint8: the caller's mistake, not a tracker's.
        """
        if not self._live:
            return
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"a sample grid is (H, W, 3) uint8, not {image.shape} {image.dtype} ({tag!r})"
            )
        # One tracker must not be able to change what the next one receives.
        frozen = np.array(image, copy=True)
        frozen.flags.writeable = False
        for name, tracker in list(self._live.items()):
            try:
                tracker.log_image(tag, step, frozen)
            except Exception as exc:  # noqa: BLE001 - a tracker cannot lose the run
                self._drop(name, "log_image", exc)

    def close(self) -> None:
        """Close every tracker once, failed ones included; later calls do nothing.

        Never raises for a tracker's failure: each is reported through ``on_status``.
        """
        if self._closed:
            return
        self._closed = True
        self._live.clear()
        for name, tracker in self._all.items():
            try:
                tracker.close()
            except Exception as exc:  # noqa: BLE001 - the run's result is kept regardless
                self._on_status(
                    f"tracker {name}: close() failed ({_one_line(exc)}); what it logged may be "
                    "incomplete (runs/<id>/history.arrow has every record)"
                )

    def _drop(self, name: str, call: str, exc: Exception) -> None:
        del self._live[name]
        self._on_status(
            f"tracker {name}: {call}() failed ({_one_line(exc)}); it gets nothing more from this "
            "run, which goes on (runs/<id>/history.arrow has every record)"
        )


def _specs(
    names: Sequence[str], registries: Registries, args: Mapping[str, Mapping[str, ArgValue]]
) -> list[tuple[str, TrackerSpec]]:
    """The specs of the named trackers, every one checked before any is built.

    Raises:
        UnknownNameError, UsageError: see :func:`open_trackers`.
    """
    wanted = list(dict.fromkeys(names))
    stray = sorted(set(args) - set(wanted))
    if stray:
        raise UsageError(
            f"Arguments given for tracker(s) the run does not use: {', '.join(stray)}.",
            hint="Add --tracker NAME for each, or drop their arguments.",
        )
    specs = [(name, registries.trackers.get(name)) for name in wanted]
    for name, spec in specs:
        spec.resolve(args.get(name, {}))
        spec.check_installed()
    return specs


def _open(
    name: str, spec: TrackerSpec, raw: Mapping[str, ArgValue], ctx: TrackerContext
) -> Tracker:
    """Build one tracker; an exception that is not one of ours becomes one message."""
    try:
        tracker: Tracker = spec.build(raw, ctx)
    except MedganbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is one message, not a traceback
        raise PluginError(
            f"The tracker {name!r} could not be opened: {_one_line(exc)}",
            hint=f"Check its arguments and its store, or run without --tracker {name}.",
        ) from exc
    return tracker


def open_trackers(
    names: Sequence[str],
    registries: Registries,
    ctx: TrackerContext,
    *,
    args: Mapping[str, Mapping[str, ArgValue]] | None = None,
    on_status: Callable[[str], None] = _silent,
) -> TrackerSet:
    """Open the trackers a run names, before it trains.

    Args:
        names: registered tracker names, in order; a name given twice is opened once.
        registries: where the names are looked up (``registries.trackers``).
        ctx: the run the trackers mirror (set ``resumed_from_step`` when resuming).
        args: raw arguments per tracker name (``{"tensorboard": {"logdir": "tb"}}``); a
            tracker not in ``args`` gets its defaults.
        on_status: where later failures of a tracker are reported (see the module).

    Returns:
        The opened trackers; an empty set (which costs nothing) when ``names`` is empty.

    Raises:
        UnknownNameError: a name, or an argument of a tracker, is not registered (close names
            are suggested); nothing has been opened then.
        UsageError: an argument does not parse, arguments name a tracker that is not used, a
            tracker's package is not installed (naming the ``pip install`` that adds it), or a
            tracker cannot reach its store; trackers already opened are closed again.
        PluginError: a tracker's constructor failed in another way.
    """
    given = args or {}
    specs = _specs(names, registries, given)
    opened: list[tuple[str, Tracker]] = []
    try:
        for name, spec in specs:
            opened.append((name, _open(name, spec, given.get(name, {}), ctx)))
    except BaseException:
        # Nothing half-open is left behind; the error that stopped the opening is the message.
        TrackerSet(opened).close()
        raise
    return TrackerSet(opened, on_status)


__all__ = ["TrackerSet", "open_trackers"]
