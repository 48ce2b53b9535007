"""The contract kit: the checks every built-in component passes, for any installed component.

``medganbench check KIND NAME`` and ``medganbench check-plugin DISTRIBUTION`` run them from the
command line (one line per contract, exit 1 naming each broken one); a plugin's own test suite
imports them from here::

    from medganbench.testing import assert_contracts, parametrize_with_checks

    def test_my_model_keeps_every_contract():
        assert_contracts("model", "my-model")

    @parametrize_with_checks("metric", ["my-metric"])
    def test_my_metric(check):
        check()

medganbench's own contract tests (``tests/test_contracts.py``) are these checks, run over every
built-in component, so the kit cannot drift from what the built-ins are held to. The contracts
themselves are described in ``docs/plugins.md``.

Owns: the contracts of each kind as data (:mod:`~medganbench.testing.models`,
:mod:`~medganbench.testing.datasets`, :mod:`~medganbench.testing.metrics`,
:mod:`~medganbench.testing.executors`, :mod:`~medganbench.testing.weights`,
:mod:`~medganbench.testing.encoders`, :mod:`~medganbench.testing.trackers`), running them
(:mod:`~medganbench.testing.report`, :mod:`~medganbench.testing.kit`) and the pytest helpers
(:mod:`~medganbench.testing.parametrize`).

May import: core, defaults, errors, run, sweep, weights.
"""

from __future__ import annotations

from medganbench.testing.kit import (
    KINDS,
    CheckSettings,
    assert_contracts,
    check_component,
    components_of,
    contract_keys,
    registered_names,
)
from medganbench.testing.parametrize import Check, checks_for, parametrize_with_checks
from medganbench.testing.report import CheckResult, ContractViolation

__all__ = [
    "KINDS",
    "Check",
    "CheckResult",
    "CheckSettings",
    "ContractViolation",
    "assert_contracts",
    "check_component",
    "checks_for",
    "components_of",
    "contract_keys",
    "parametrize_with_checks",
    "registered_names",
]
