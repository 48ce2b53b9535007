"""The titles of a leaderboard's groups, the same in every view (terminal, markdown, site):
dataset, image size, budget (or the external track's mark), the checkpoint protocol where it
is not ``final``, split, direction and data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.ranking import RankedGroup
from medganbench.leaderboard.seeds import AggregatedGroup

__all__ = [
    "EXTERNAL_HEADING",
    "EXTERNAL_MARK",
    "READER_STUDY_MARK",
    "format_budget",
    "group_direction",
    "group_title",
    "is_external",
    "is_reader_study",
]

_AnyGroup: TypeAlias = RankedGroup | AggregatedGroup


def format_budget(key: Mapping[str, Any]) -> str:
    parts = []
    for name in ("steps", "kimg", "seconds"):
        value = key.get(f"budget_{name}")
        if value is not None:
            # Same spelling as ``--budget``; ``:g`` would turn 1000000 steps into 1e+06.
            parts.append(f"{name}={value}" if isinstance(value, int) else f"{name}={value:g}")
    return ",".join(parts) or "none"


#: How a group of outputs made elsewhere is marked wherever it is shown.
EXTERNAL_MARK = "EXTERNAL outputs (made elsewhere, no budget; not ranked with budgeted runs)"
#: The heading above a leaderboard's external groups (terminal, markdown, site).
EXTERNAL_HEADING = (
    "Track external: outputs made elsewhere and scored here (medganbench score) — "
    "no training budget, ranked only among themselves"
)


#: How a group of reader-study rows is marked wherever it is shown.
READER_STUDY_MARK = "READER STUDY (readers' answers on the run's images; not ranked)"


def is_reader_study(group: _AnyGroup) -> bool:
    """Whether ``group`` holds reader-study rows (``track=reader-study``)."""
    return group.key.get("track") == "reader-study"


def is_external(group: _AnyGroup) -> bool:
    """Whether ``group`` holds outputs made elsewhere (``track=external``)."""
    return group.key.get("track") == "external"


def group_direction(group: _AnyGroup, naming: Naming = PLAIN) -> str:
    """The group's direction as ``naming`` names it: ``"MR → CT (a2b)"``, or ``"noise → CT"``
    where every model of the group samples (both, ``/``-separated, where some do)."""
    k = group.key
    members = group.entries if isinstance(group, AggregatedGroup) else group.rows
    samplers = [naming.is_sampler(m.model, m.model_args) for m in members]

    def named(sampler: bool) -> str:
        return naming.direction(
            k["dataset"], k["dataset_fingerprint"], k["direction"], sampler=sampler
        )

    if samplers and all(samplers):
        return named(True)
    return f"{named(False)} / {named(True)}" if any(samplers) else named(False)


def group_title(group: _AnyGroup, naming: Naming = PLAIN) -> str:
    k = group.key
    direction = group_direction(group, naming)
    # The fingerprint is shown (shortened) because two groups can differ only in it.
    budget = EXTERNAL_MARK if is_external(group) else f"budget {format_budget(k)}"
    if is_reader_study(group):
        budget = f"{budget} · {READER_STUDY_MARK}"
    # Only a chosen checkpoint is named: "final" is what every group was before v5.
    protocol = k.get("protocol", "final")
    chosen = f" · checkpoint {protocol}" if protocol != "final" else ""
    return (
        f"{k['dataset']} v{k['dataset_version']} · {k['image_size']}px · "
        f"{budget}{chosen} · split {k['eval_split']} · {direction} · "
        f"data {str(k['dataset_fingerprint'])[:8]}"
    )
