"""How tables name what rows hold in codes: model arguments against defaults, directions.

A row records every resolved model argument (twenty for ``hlsnc``) and its direction as a code
(``a2b``). The tables a reader takes in (``leaderboard show``, the markdown export, the site's
dataset pages) show only the arguments that differ from the model's declared defaults, and name
directions by their domains' modalities (``MR → CT (a2b)``). What they need for that, which the
rows do not hold, comes from the registries and is collected once per table in a
:class:`Naming`. The run pages and the CSV/Parquet exports keep every argument.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from medganbench.core.dataset import direction_label
from medganbench.core.manager import Registries
from medganbench.core.params import canonical_json
from medganbench.errors import MedganbenchError

#: Where a cell lists only non-default arguments and every argument is at its default.
DEFAULTS_TEXT = "defaults"


@dataclass(frozen=True)
class Naming:
    """What tables need from the registries to name rows' codes.

    Attributes:
        model_defaults: model name → (its installed version, its declared defaults). A row of
            another version shows every argument: its defaults may have been others.
        modalities: (dataset, dataset fingerprint) → (modality of A, modality of B).
        all_args: show every argument, not only the non-default ones.
    """

    model_defaults: Mapping[str, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    modalities: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    all_args: bool = False

    def changed_args(self, model: str, version: str, args_json: str) -> str:
        """Canonical JSON of the arguments of ``args_json`` that differ from the model's
        defaults (all of them with :attr:`all_args`, or for an unknown model or version)."""
        known = self.model_defaults.get(model)
        if self.all_args or known is None or known[0] != version:
            return args_json
        try:
            args = json.loads(args_json)
        except ValueError:
            return args_json
        if not isinstance(args, dict):
            return args_json
        defaults = known[1]
        return canonical_json(
            {
                name: value
                for name, value in args.items()
                if name not in defaults or canonical_json(defaults[name]) != canonical_json(value)
            }
        )

    def filters_args(self, model: str, version: str) -> bool:
        """Whether :meth:`changed_args` leaves out default arguments for this model."""
        known = self.model_defaults.get(model)
        return not self.all_args and known is not None and known[0] == version

    def direction(self, dataset: str, fingerprint: str, direction: str) -> str:
        """``"MR → CT (a2b)"``; the bare code where the modalities are unknown."""
        found = self.modalities.get((dataset, fingerprint))
        if found is None:
            return direction
        named = direction_label(direction, *found)
        return direction if named == direction else f"{named} ({direction})"


#: Codes as they are: for callers without registries.
PLAIN = Naming()


def naming_for(table: pa.Table, registries: Registries, *, all_args: bool = False) -> Naming:
    """The :class:`Naming` of a leaderboard table, from the installed plugins.

    Models and datasets that are not installed (or whose arguments no longer resolve) are
    left out: their rows show every argument and bare direction codes.
    """
    defaults: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for entry in registries.models.entries():
        spec = entry.spec
        defaults[spec.name] = (spec.version, {p.name: p.default for p in spec.params})
    modalities: dict[tuple[str, str], tuple[str, str]] = {}
    seen = set()
    for name, fingerprint, args_json in zip(
        table.column("dataset").to_pylist(),
        table.column("dataset_fingerprint").to_pylist(),
        table.column("dataset_args").to_pylist(),
        strict=True,
    ):
        if (name, fingerprint) in seen:
            continue
        seen.add((name, fingerprint))
        try:
            found = registries.datasets.get(name).domain_modalities(json.loads(args_json))
        except (MedganbenchError, ValueError, TypeError):
            found = None
        if found is not None:
            modalities[(name, fingerprint)] = found
    return Naming(defaults, modalities, all_args)


__all__ = ["DEFAULTS_TEXT", "PLAIN", "Naming", "naming_for"]
