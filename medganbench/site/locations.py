"""Where a run's data were is never published: location arguments leave every page.

A dataset's location arguments (``Param(location=True)``, e.g. ``root``) say where its files
were on one machine, and a local path can name a person or a patient. Runs never write them to
a row or a ``spec.json``, and the leaderboard's upgrade removes them from rows of schemas before
that rule (:mod:`medganbench.leaderboard.upgrades`); the site removes them again from whatever
rows, specs and commands it shows: a second line of defence.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from medganbench.core.manager import Registries
from medganbench.core.params import DATA_LOCATION_ARGS


def location_names(dataset: str, registries: Registries | None) -> frozenset[str]:
    """The arguments of ``dataset`` that say where its files are, never shown on the site: its
    declared location arguments where it is installed here, and always
    :data:`~medganbench.core.params.DATA_LOCATION_ARGS`."""
    names = set(DATA_LOCATION_ARGS)
    if registries is not None and dataset in registries.datasets:
        names |= {p.name for p in registries.datasets.get(dataset).params if p.location}
    return frozenset(names)


def without_locations(args: Mapping[str, Any], names: Collection[str]) -> dict[str, Any]:
    """``args`` without the location arguments ``names`` (a local path can name a patient)."""
    return {k: v for k, v in args.items() if k not in names}


def public_args_json(args_json: str, private: Collection[str]) -> str:
    """A row's ``dataset_args`` without location arguments (unchanged if not a JSON object)."""
    try:
        args = json.loads(args_json)
    except ValueError:
        return args_json
    return json.dumps(without_locations(args, private)) if isinstance(args, dict) else args_json


def public_spec(spec_json: Mapping[str, Any], private: Collection[str]) -> dict[str, Any]:
    """A run's ``spec.json`` without location arguments (an old one may hold a data root)."""
    spec = dict(spec_json)
    if isinstance(spec.get("dataset_args"), Mapping):
        spec["dataset_args"] = without_locations(spec["dataset_args"], private)
    return spec
