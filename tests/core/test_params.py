"""Declared arguments: typing, defaults, validation messages."""

from __future__ import annotations

import pytest

from medganbench.core.params import Param, parse_key_values, resolve_args
from medganbench.errors import UnknownNameError, UsageError

PARAMS = (
    Param("lr", 2e-4, "learning rate", minimum=0.0),
    Param("blocks", 9, "residual blocks", minimum=1),
    Param("loss", "hinge", "adversarial loss", choices=("hinge", "lsgan")),
    Param("amp", True, "mixed precision"),
)


def test_defaults_fill_missing_arguments() -> None:
    assert resolve_args(PARAMS, {}, "m") == {"lr": 2e-4, "blocks": 9, "loss": "hinge", "amp": True}


def test_strings_are_typed() -> None:
    got = resolve_args(PARAMS, {"lr": "0.001", "blocks": "6", "amp": "off"}, "m")
    assert got["lr"] == 0.001 and got["blocks"] == 6 and got["amp"] is False


def test_explicit_default_equals_omitted() -> None:
    assert resolve_args(PARAMS, {"lr": "0.0002"}, "m") == resolve_args(PARAMS, {}, "m")


def test_unknown_key_suggests_and_lists() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_args(PARAMS, {"los": "hinge"}, "model 'hlsnc'")
    text = str(info.value)
    assert "Did you mean 'loss'?" in text and "Known arguments: lr, blocks, loss, amp" in text


def test_bad_choice_lists_allowed_values() -> None:
    with pytest.raises(UsageError, match="Allowed values: hinge|lsgan"):
        resolve_args(PARAMS, {"loss": "wgan"}, "m")


@pytest.mark.parametrize(("key", "value"), [("blocks", "6.5"), ("lr", "fast"), ("amp", "maybe")])
def test_wrong_type_is_a_usage_error(key: str, value: str) -> None:
    with pytest.raises(UsageError, match="is not a valid"):
        resolve_args(PARAMS, {key: value}, "m")


def test_below_minimum_is_refused() -> None:
    with pytest.raises(UsageError, match="below its minimum"):
        resolve_args(PARAMS, {"blocks": "0"}, "m")


def test_key_values_accept_repeats_and_commas() -> None:
    assert parse_key_values(["a=1,b=2", "c=x"], "--model-arg") == {"a": "1", "b": "2", "c": "x"}


@pytest.mark.parametrize("item", ["novalue", "=3"])
def test_key_values_without_equals_are_refused(item: str) -> None:
    with pytest.raises(UsageError, match="key=value"):
        parse_key_values([item], "--model-arg")


def test_key_given_twice_is_refused() -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse_key_values(["a=1", "a=2"], "--model-arg")


def test_values_may_contain_commas() -> None:
    got = parse_key_values(["window=-1024,3000,seed=2", "a_window=0,255"], "--dataset-arg")
    assert got == {"window": "-1024,3000", "seed": "2", "a_window": "0,255"}
