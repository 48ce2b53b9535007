"""The kit inside a pytest suite: one test per (component, contract).

Usage, in a plugin's own tests::

    from medganbench.testing import parametrize_with_checks

    @parametrize_with_checks("model", ["my-model"])
    def test_contract(check):
        check()

Each ``check`` is one contract of one component; a failure names it, and a contract that does
not apply is a pytest skip with its reason. A component's contracts are checked together the
first time one of them runs (they share what they build), so their times add up on that test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from medganbench.core.manager import Registries
from medganbench.testing.kit import (
    CheckSettings,
    check_component,
    contract_keys,
    default_registries,
    registered_names,
)
from medganbench.testing.report import CheckResult, ContractViolation

#: Settings of each component, or a function of its name (called when its first check runs,
#: so it may use paths only known inside a test session).
SettingsFor = Mapping[str, CheckSettings] | Callable[[str], CheckSettings]


class ComponentChecks:
    """The contracts of one component, checked once, when the first is asked for."""

    def __init__(
        self, kind: str, name: str, settings: SettingsFor | None, registries: Registries | None
    ) -> None:
        self.kind, self.name = kind, name
        self._settings, self._registries = settings, registries
        self._results: dict[str, CheckResult] | None = None

    def settings(self) -> CheckSettings:
        if self._settings is None:
            return CheckSettings()
        if callable(self._settings):
            return self._settings(self.name)
        return self._settings.get(self.name, CheckSettings())

    def result(self, contract: str) -> CheckResult:
        if self._results is None:
            found = check_component(self.kind, self.name, self.settings(), self._registries)
            self._results = {r.contract: r for r in found}
        return self._results[contract]


class Check:
    """One contract of one component; calling it fails (or skips) the test it runs in."""

    def __init__(self, component: ComponentChecks, contract: str) -> None:
        self.component, self.contract = component, contract

    @property
    def id(self) -> str:
        return f"{self.component.kind}-{self.component.name}-{self.contract}"

    def __repr__(self) -> str:
        return f"Check({self.id})"

    def __call__(self) -> CheckResult:
        import pytest

        result = self.component.result(self.contract)
        if result.status == "skipped":
            pytest.skip(result.detail)
        if result.status == "failed":
            raise ContractViolation(result.line())
        return result


def checks_for(
    kind: str,
    names: Sequence[str],
    settings: SettingsFor | None = None,
    registries: Registries | None = None,
) -> list[Check]:
    """One :class:`Check` per contract of each named component."""
    components = [ComponentChecks(kind, name, settings, registries) for name in names]
    return [Check(c, key) for c in components for key in contract_keys(kind)]


def parametrize_with_checks(
    kind: str,
    names: Sequence[str] | None = None,
    settings: SettingsFor | None = None,
    registries: Registries | None = None,
) -> Any:
    """A ``pytest.mark.parametrize("check", ...)`` over every contract of each component.

    Args:
        kind: ``"model"``, ``"dataset"``, ``"metric"``, ``"executor"`` or ``"weights"``.
        names: the components; default: every registered one of the kind.
        settings: per component name (or a function of it): arguments, skips, probe dataset.
        registries: where the components are registered; default: every installed plugin.
    """
    import pytest

    if names is None:
        registries = registries or default_registries()
        names = registered_names(kind, registries)
    checks = checks_for(kind, list(names), settings, registries)
    return pytest.mark.parametrize("check", checks, ids=[c.id for c in checks])
