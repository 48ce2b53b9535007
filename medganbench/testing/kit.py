"""Checking installed components against their kind's contracts.

:func:`check_component` checks one component and returns one :class:`CheckResult` per
contract; :func:`assert_contracts` raises if any fails (scikit-learn's ``check_estimator``, for
medganbench plugins); :func:`components_of` lists what one installed distribution registers,
for ``medganbench check-plugin``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from medganbench.core.loading import PluginManager
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.errors import UsageError
from medganbench.testing import (
    datasets,
    encoders,
    executors,
    metrics,
    models,
    trackers,
    weights,
)
from medganbench.testing.report import (
    CheckResult,
    Contract,
    ContractViolation,
    Probe,
    run_contracts,
)

#: Every kind the kit checks, and its contracts in the order they are checked.
CONTRACTS: Mapping[str, tuple[Contract, ...]] = {
    "model": models.CONTRACTS,
    "dataset": datasets.CONTRACTS,
    "metric": metrics.CONTRACTS,
    "executor": executors.CONTRACTS,
    "weights": weights.CONTRACTS,
    "encoder": encoders.CONTRACTS,
    "tracker": trackers.CONTRACTS,
}
KINDS: tuple[str, ...] = tuple(CONTRACTS)
_REGISTRY = {
    "model": "models",
    "dataset": "datasets",
    "metric": "metrics",
    "executor": "executors",
    "weights": "weights",
    "encoder": "encoders",
    "tracker": "trackers",
}


@dataclass(frozen=True)
class CheckSettings:
    """How one component is checked.

    Attributes:
        args: its raw arguments (a file-backed dataset needs ``root``); defaults otherwise.
        skip: contract key → why it does not apply to this component.
        dataset: the dataset models and metrics are checked on (default: a small phantom).
        dataset_args: that dataset's arguments, on top of its defaults (for the phantom, on top
            of the small probe's: two subjects per split, four slices each).
        weights_file: the raw file of a weights artifact, for its ``loads`` contract.
        tensors: encoders: returns the weights to build the encoder with instead of its
            artifact's installed file (a random initialisation of the architecture will do).
    """

    args: Mapping[str, Any] = field(default_factory=dict)
    skip: Mapping[str, str] = field(default_factory=dict)
    dataset: str | None = None
    dataset_args: Mapping[str, Any] | None = None
    weights_file: str | None = None
    tensors: Callable[[], Mapping[str, Any] | None] | None = None


def contract_keys(kind: str) -> tuple[str, ...]:
    """The keys of a kind's contracts, in the order they are checked.

    Raises:
        UsageError: not a kind the kit checks.
    """
    return tuple(c.key for c in _contracts(kind))


def _contracts(kind: str) -> tuple[Contract, ...]:
    if kind not in CONTRACTS:
        raise UsageError(f"Unknown kind {kind!r}.", hint=f"Kinds: {', '.join(KINDS)}")
    return CONTRACTS[kind]


def registered_names(kind: str, registries: Registries) -> list[str]:
    """Every registered name of ``kind``, sorted."""
    _contracts(kind)
    names: list[str] = getattr(registries, _REGISTRY[kind]).names()
    return names


def default_registries() -> Registries:
    """The registries of every installed plugin (built-ins, then entry points)."""
    return build_registries(make_plugin_manager())


def check_component(
    kind: str,
    name: str,
    settings: CheckSettings | None = None,
    registries: Registries | None = None,
) -> list[CheckResult]:
    """Check one registered component against every contract of its kind.

    Args:
        kind: one of :data:`KINDS`.
        name: its registered name.
        settings: arguments, contracts to skip (with the reason), the probe dataset.
        registries: where to find it; default: every installed plugin.

    Returns:
        One result per contract, in order; a failed contract's detail says how it failed.

    Raises:
        UsageError: an unknown kind, or a contract to skip that the kind does not have.
        UnknownNameError: nothing of that kind is registered as ``name``.
    """
    settings = settings or CheckSettings()
    contracts = _contracts(kind)
    unknown = sorted(set(settings.skip) - {c.key for c in contracts})
    if unknown:
        raise UsageError(
            f"A {kind} has no contract {', '.join(map(repr, unknown))}.",
            hint=f"The {kind} contracts: {', '.join(c.key for c in contracts)}",
        )
    registries = registries or default_registries()
    spec = getattr(registries, _REGISTRY[kind]).get(name)
    options: dict[str, Any] = {
        "registries": registries,
        "weights_file": settings.weights_file,
        "tensors": settings.tensors,
    }
    if settings.dataset is not None:
        options["dataset"] = settings.dataset
    if settings.dataset_args is not None:
        options["dataset_args"] = settings.dataset_args
    probe = Probe(kind, name, spec, dict(settings.args), options)
    return run_contracts(probe, contracts, settings.skip)


def assert_contracts(
    kind: str,
    name: str,
    settings: CheckSettings | None = None,
    registries: Registries | None = None,
) -> None:
    """Check a component (see :func:`check_component`) and raise if any contract fails.

    Raises:
        ContractViolation: one line per broken contract.
    """
    failed = [r for r in check_component(kind, name, settings, registries) if not r.passed]
    if failed:
        raise ContractViolation("\n".join(r.line() for r in failed))


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def components_of(
    pm: PluginManager, registries: Registries, distribution: str
) -> list[tuple[str, str]]:
    """(kind, name) of every component the installed ``distribution`` registers.

    Raises:
        UsageError: no plugin of that distribution is loaded (with the ones that are).
    """
    wanted = _normalised(distribution)
    plugins = {
        name for name, origin in pm.origins.items() if _normalised(origin.distribution) == wanted
    }
    if not plugins:
        known = sorted({o.distribution for o in pm.origins.values()})
        raise UsageError(
            f"No plugin of a distribution named {distribution!r} is loaded.",
            hint="Is it installed (pip install ...) with a [project.entry-points.medganbench] "
            f"entry? Loaded distributions: {', '.join(known)}",
        )
    return [
        (kind, entry.spec.name)
        for kind in KINDS
        for entry in getattr(registries, _REGISTRY[kind]).entries()
        if entry.plugin in plugins
    ]
