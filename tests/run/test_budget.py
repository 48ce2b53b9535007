"""Budgets: parsing, the first limit reached stops, fractions."""

from __future__ import annotations

import pytest

from medganbench.errors import UsageError
from medganbench.run.budget import Budget, Ledger


def test_parse_any_subset_in_any_order() -> None:
    assert Budget.parse("seconds=30,steps=100") == Budget(steps=100, seconds=30.0)
    assert Budget.parse("kimg=1.5") == Budget(kimg=1.5)


@pytest.mark.parametrize(
    "text", ["", "steps", "epochs=3", "steps=ten", "steps=0", "kimg=-1", "steps=1,steps=2"]
)
def test_bad_budgets_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        Budget.parse(text)


def test_str_round_trips() -> None:
    budget = Budget(steps=10, kimg=0.5)
    assert Budget.parse(str(budget)) == budget


@pytest.mark.parametrize(
    ("ledger", "exhausted"),
    [
        (Ledger(steps=99, images=100, train_seconds=1.0), False),
        (Ledger(steps=100, images=100, train_seconds=1.0), True),  # steps reached first
        (Ledger(steps=10, images=2000, train_seconds=1.0), True),  # kimg reached first
        (Ledger(steps=10, images=100, train_seconds=60.0), True),  # seconds reached first
    ],
)
def test_first_limit_reached_stops(ledger: Ledger, exhausted: bool) -> None:
    assert ledger.exhausted(Budget(steps=100, kimg=2.0, seconds=60.0)) is exhausted


def test_fraction_is_the_largest_part() -> None:
    ledger = Ledger(steps=25, images=1500, train_seconds=3.0)
    assert ledger.fraction(Budget(steps=100, kimg=2.0, seconds=60.0)) == pytest.approx(0.75)


def test_eval_seconds_do_not_count() -> None:
    ledger = Ledger(steps=1, train_seconds=1.0, eval_seconds=1e6)
    assert not ledger.exhausted(Budget(seconds=10.0))
