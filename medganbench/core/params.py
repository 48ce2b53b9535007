"""Declared arguments of models and datasets, and their validation.

A component declares its arguments as a tuple of :class:`Param`. Raw ``key=value`` strings from
the command line are parsed against that declaration by :func:`resolve_args`, which fills in
defaults. The resolved mapping (every declared key, typed) is what enters a run's identity, so
``--model-arg lr=0.0002`` and the default ``lr`` give the same run id.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medganbench.errors import UnknownNameError, UsageError

ArgValue = bool | int | float | str


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings.

    Resolved arguments, run identities and the JSON columns of leaderboard rows are all written
    this way, so equal content always hashes and compares equal.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


#: Names of location arguments (``Param(location=True)``: where data are on one machine) that
#: are stripped wherever a dataset's own declaration is not at hand: from rows of leaderboard
#: schemas before location arguments were kept off rows (v1, v2), and by the site as a second
#: line of defence (with the location arguments of the datasets installed there).
DATA_LOCATION_ARGS: tuple[str, ...] = ("root", "data_dir")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One declared argument.

    Attributes:
        name: the key used in ``--model-arg name=value``.
        default: the value used when the argument is not given; its type (bool, int, float,
            str) is the argument's type.
        help: one line shown by ``medganbench list --details``.
        choices: the allowed values, where the argument is an enumeration.
        minimum: the smallest allowed value, for numbers.
        maximum: the largest allowed value, for numbers: where a size has a natural limit
            (a channel width, a number of bins), so that a typo cannot ask for terabytes. Like
            ``minimum`` it only checks values; it is not part of any run id. Integers must fit
            int64 whatever their maximum.
        finite: for floats, refuse NaN and ±inf (true unless a component really takes them).
        location: the argument says *where* files are (a dataset's ``root``), not what they
            are. It is not part of the run id and is never written to a leaderboard row, a
            published ``spec.json`` or the site (a local path can name a person or a patient);
            the run keeps it in its local run folder only (``runs/<id>/local.json``). The data
            themselves are identified by the dataset fingerprint on every row.
        omit_default: while the argument has its default value it is left out of the run id
            and of the row's arguments (a metric's ``convention``), so declaring it did not
            change the ids of runs recorded before it existed; any other value enters both.
        component: the value names a registered component of this kind (``"encoder"``): the
            run checks the name against that registry before anything is built, and the
            component's version enters the run id with it.
    """

    name: str
    default: ArgValue
    help: str = ""
    choices: tuple[ArgValue, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    finite: bool = True
    location: bool = False
    omit_default: bool = False
    component: str = ""

    def parse(self, raw: ArgValue, owner: str) -> ArgValue:
        """Convert ``raw`` to this argument's type and check it.

        Args:
            raw: a string from the command line, or an already typed value.
            owner: the component name, used in error messages.

        Returns:
            The typed value.

        Raises:
            UsageError: the value has the wrong type, is not among ``choices``, is outside
                ``minimum``..``maximum``, or is an integer that does not fit int64.
        """
        kind = type(self.default)
        try:
            if kind is bool:
                value: ArgValue = _parse_bool(raw)
            elif kind is int:
                if isinstance(raw, float) and not raw.is_integer():
                    raise ValueError(raw)
                value = int(raw)
                if not INT64_MIN <= value <= INT64_MAX:
                    raise UsageError(
                        f"{owner}: argument {self.name}={_shown(raw)} does not fit a 64-bit "
                        "integer.",
                        hint=self._range_hint(),
                    )
            elif kind is float:
                value = float(raw)
            else:
                value = str(raw)
        except (TypeError, ValueError):
            raise UsageError(
                f"{owner}: argument {self.name}={raw!r} is not a valid {kind.__name__}.",
                hint=f"Example: {self.name}={self.default}",
            ) from None
        if self.choices is not None and value not in self.choices:
            allowed = "|".join(str(c) for c in self.choices)
            raise UsageError(
                f"{owner}: argument {self.name}={raw!r} is not allowed.",
                hint=f"Allowed values: {allowed}",
            )
        if self.finite and isinstance(value, float) and not math.isfinite(value):
            raise UsageError(
                f"{owner}: argument {self.name}={raw!r} is not a finite number.",
                hint=f"Example: {self.name}={self.default}",
            )
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise UsageError(
                    f"{owner}: argument {self.name}={raw!r} is below its minimum "
                    f"{_number(self.minimum)}.",
                    hint=self._range_hint(),
                )
            if self.maximum is not None and value > self.maximum:
                raise UsageError(
                    f"{owner}: argument {self.name}={_shown(raw)} is above its maximum "
                    f"{_number(self.maximum)}.",
                    hint=self._range_hint(),
                )
        return value

    def _range_hint(self) -> str:
        """The allowed values of a number, e.g. ``"Allowed: 2 to 65536 (default 256)."``."""
        low = _number(self.minimum) if self.minimum is not None else None
        high = _number(self.maximum) if self.maximum is not None else None
        if type(self.default) is int:
            low = low if low is not None else str(INT64_MIN)
            high = high if high is not None else str(INT64_MAX)
        if low is not None and high is not None:
            allowed = f"{low} to {high}"
        elif low is not None:
            allowed = f"at least {low}"
        else:
            allowed = f"at most {high}"
        return f"Allowed: {self.name} = {allowed} (default {self.default})."


#: The range of a 64-bit integer: every integer argument must fit it (it is stored and hashed,
#: and torch and numpy take sizes as int64).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _number(value: float) -> str:
    """A bound as written in a declaration: ``2`` rather than ``2.0``."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _shown(raw: ArgValue) -> str:
    """``raw`` for a message, cut short: a 10,000-digit number is not repeated in full."""
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_bool(raw: ArgValue) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(raw)


_ITEM_BOUNDARY = re.compile(r",(?=\s*[A-Za-z_][\w.]*\s*=)")


def parse_key_values(items: tuple[str, ...] | list[str], what: str) -> dict[str, str]:
    """Split ``["k=v", "k2=v2"]`` (or ``["k=v,k2=v2"]``) into a dict.

    Raises:
        UsageError: an item has no ``=`` or a key is given twice.
    """
    out: dict[str, str] = {}
    for item in items:
        # Split only at commas that start a new "key=": values may contain commas themselves
        # (a window "lo,hi"), and "k=-1024,3000" must stay one item.
        for part in _ITEM_BOUNDARY.split(item):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or not key:
                raise UsageError(f"{what} {part!r} is not of the form key=value.")
            if key in out:
                raise UsageError(f"{what} {key!r} is given twice.")
            out[key] = value.strip()
    return out


def resolve_args(
    params: tuple[Param, ...], raw: Mapping[str, ArgValue], owner: str
) -> dict[str, ArgValue]:
    """Validate raw arguments against their declaration and fill in defaults.

    Args:
        params: the component's declared arguments.
        raw: given arguments, as strings or typed values.
        owner: the component name, used in messages.

    Returns:
        A dict with every declared argument, in declaration order, typed.

    Raises:
        UnknownNameError: a key is not declared (the message lists the declared ones).
        UsageError: a value does not parse or is not allowed.
    """
    known = {p.name: p for p in params}
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            listed = ", ".join(known) if known else "(none)"
            raise UnknownNameError(
                f"{owner} has no argument {key!r}.", hint=f"{hint}Known arguments: {listed}"
            )
    return {p.name: p.parse(raw[p.name], owner) if p.name in raw else p.default for p in params}


def identity_args(
    params: tuple[Param, ...], resolved: Mapping[str, ArgValue]
) -> dict[str, ArgValue]:
    """``resolved`` without the arguments declared ``omit_default`` that have their default.

    What enters a run id and a leaderboard row; building the component from it gives the same
    component, since :func:`resolve_args` fills the defaults in again.
    """
    omitted = {p.name for p in params if p.omit_default and resolved.get(p.name) == p.default}
    return {k: v for k, v in resolved.items() if k not in omitted}
