"""What MLflow accepts as names and values, made from a run's series and identity.

MLflow refuses metric, parameter and image keys outside ``[A-Za-z0-9_ ./-]``, keys that are not
normalised paths (``a//b``, ``../a``, a trailing ``/``), batches of more than 1000 metrics or
100 parameters, and parameter values over 500 characters on older servers. A loss's name is
whatever the model reports, so every key is made safe here rather than refused there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

#: Metrics per ``log_batch`` call (MLflow's limit).
METRICS_PER_BATCH = 1000
#: Parameters per ``log_batch`` call (MLflow's limit).
PARAMS_PER_BATCH = 100
#: The longest parameter value every MLflow server accepts (6000 since MLflow 2.x, 500 before);
#: a longer one is cut and ends with "…".
MAX_PARAM_LENGTH = 500

_UNSAFE = re.compile(r"[^\w./\- ]", re.ASCII)

T = TypeVar("T")


def safe_key(name: str) -> str:
    """``name`` as an MLflow key: unsafe characters become ``_``, and every path part that is
    empty, ``.`` or ``..`` becomes ``_`` (``"loss/D(A)"`` → ``"loss/D_A_"``)."""
    parts = _UNSAFE.sub("_", name).split("/")
    return "/".join("_" if part in ("", ".", "..") else part for part in parts)


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from _flat(f"{prefix}.{key}" if prefix else str(key), inner)
    else:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        yield prefix, text


def flat_params(identity: Mapping[str, Any]) -> dict[str, str]:
    """A run's identity as MLflow parameters: nested keys joined by dots
    (``model_args.lr``), values as text (strings as they are, anything else as JSON)."""
    params = {}
    for key, text in _flat("", identity):
        if len(text) > MAX_PARAM_LENGTH:
            text = text[: MAX_PARAM_LENGTH - 1] + "…"
        params[safe_key(key)] = text
    return params


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
