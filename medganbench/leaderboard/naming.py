"""How tables name what rows hold in codes: model arguments against defaults, directions.

A row records every resolved model argument (twenty for ``hlsnc``) and its direction as a code
(``a2b``). The tables a reader takes in (``leaderboard show``, the markdown export, the site's
dataset pages) show only the arguments that differ from the model's declared defaults, and name
directions by their domains' modalities (``MR → CT (a2b)``). What they need for that, which the
rows do not hold, comes from the registries and is collected once per table in a
:class:`Naming`. The run pages and the CSV/Parquet exports keep every argument.

Two facts come from the installed model's class (:class:`~medganbench.core.model.Model`), for
the models a table holds (at any version: a model does not change its task between versions):

* its ``task``: a sampler (``Task.SAMPLE``) maps noise to the target domain, so its direction
  is named ``noise → CT``, not ``CT → CT (a2b)``. Outputs scored with ``medganbench score``
  name no installed model; their rows' ``model_args`` record ``"task": "sample"``.
* ``learned``: a non-learned baseline's precision label (``[bf16-mixed]``) is left out, since
  the precision cannot change its values.
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
#: ``Task.SAMPLE``'s value (compared as text: the leaderboard does not import the model core).
SAMPLE_TASK = "sample"


@dataclass(frozen=True)
class Naming:
    """What tables need from the registries to name rows' codes.

    Attributes:
        model_defaults: model name → (its installed version, its declared defaults). A row of
            another version shows every argument: its defaults may have been others.
        modalities: (dataset, dataset fingerprint) → (modality of A, modality of B).
        all_args: show every argument, not only the non-default ones.
        samplers: the installed samplers (``task`` ``"sample"``) among the table's models.
        not_learned: the installed models with ``learned`` false among the table's models.
    """

    model_defaults: Mapping[str, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    modalities: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    all_args: bool = False
    samplers: frozenset[str] = frozenset()
    not_learned: frozenset[str] = frozenset()

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

    def shows_precision(self, model: str) -> bool:
        """Whether a row's precision is shown beside its arguments: not for a non-learned
        model (``Model.learned`` false), whose values the precision cannot change."""
        return model not in self.not_learned

    def is_sampler(self, model: str, model_args: str) -> bool:
        """Whether the rows of this model sample (``Task.SAMPLE``) rather than translate: the
        installed model's ``task``; for a model not installed (outputs scored with
        ``medganbench score``), the ``"task"`` its arguments record."""
        if model in self.samplers:
            return True
        if model in self.model_defaults:
            return False
        try:
            args = json.loads(model_args)
        except ValueError:
            return False
        return isinstance(args, dict) and args.get("task") == SAMPLE_TASK

    def direction(
        self, dataset: str, fingerprint: str, direction: str, *, sampler: bool = False
    ) -> str:
        """``"MR → CT (a2b)"``; the bare code where the modalities are unknown. A sampler's
        direction is ``"noise → CT"`` (the modality of the domain its samples are scored
        against: the code's last letter), ``"noise (a2b)"`` where it is unknown."""
        found = self.modalities.get((dataset, fingerprint))
        if sampler:
            target = direction[-1:]
            if found is None or target not in ("a", "b"):
                return f"noise ({direction})"
            return f"noise → {found[0] if target == 'a' else found[1]}"
        if found is None:
            return direction
        named = direction_label(direction, *found)
        return direction if named == direction else f"{named} ({direction})"

    def row_direction(self, row: Mapping[str, Any]) -> str:
        """:meth:`direction` of a leaderboard row (a mapping of its columns)."""
        sampler = self.is_sampler(row["model"], row["model_args"])
        return self.direction(
            row["dataset"], row["dataset_fingerprint"], row["direction"], sampler=sampler
        )


#: Codes as they are: for callers without registries.
PLAIN = Naming()


def naming_for(table: pa.Table, registries: Registries, *, all_args: bool = False) -> Naming:
    """The :class:`Naming` of a leaderboard table, from the installed plugins.

    Models and datasets that are not installed (or whose arguments no longer resolve) are
    left out: their rows show every argument and bare direction codes. The classes of the
    installed models the table holds are imported for their ``task`` and ``learned``; one that
    cannot be counts as a learned translation model.
    """
    defaults: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for entry in registries.models.entries():
        spec = entry.spec
        defaults[spec.name] = (spec.version, {p.name: p.default for p in spec.params})
    samplers: set[str] = set()
    not_learned: set[str] = set()
    for model in sorted(set(table.column("model").to_pylist()) & set(defaults)):
        try:
            factory = registries.models.get(model).load()
        except MedganbenchError:
            continue
        if getattr(factory, "task", None) == SAMPLE_TASK:
            samplers.add(model)
        if getattr(factory, "learned", True) is False:
            not_learned.add(model)
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
    return Naming(defaults, modalities, all_args, frozenset(samplers), frozenset(not_learned))


__all__ = ["DEFAULTS_TEXT", "PLAIN", "SAMPLE_TASK", "Naming", "naming_for"]
