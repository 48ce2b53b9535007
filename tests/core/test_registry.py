"""Registries: duplicates rejected, unknown names answered with close matches."""

from __future__ import annotations

import pytest

from medganbench.core.registry import Registry
from medganbench.core.specs import ModelSpec
from medganbench.errors import DuplicateNameError, UnknownNameError


def _spec(name: str) -> ModelSpec:
    return ModelSpec(name, f"{name} summary", "1", "pkg.module:Factory")


@pytest.fixture
def registry() -> Registry[ModelSpec]:
    reg: Registry[ModelSpec] = Registry("model")
    for name in ("cyclegan", "hlsnc", "pix2pix"):
        reg.add(_spec(name), plugin="builtin")
    return reg


def test_get_returns_the_registered_spec(registry: Registry[ModelSpec]) -> None:
    assert registry.get("hlsnc").name == "hlsnc"


def test_unknown_name_suggests_the_closest(registry: Registry[ModelSpec]) -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.get("cyclgan")
    assert "Did you mean 'cyclegan'?" in str(info.value)


def test_unknown_name_lists_known_names(registry: Registry[ModelSpec]) -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.get("zzz")
    assert "Known models: cyclegan, hlsnc, pix2pix" in str(info.value)
    assert "Did you mean" not in str(info.value)


def test_unknown_name_is_a_usage_error_with_exit_code_2(registry: Registry[ModelSpec]) -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.get("nope")
    assert info.value.exit_code == 2


def test_duplicate_is_rejected_naming_both(registry: Registry[ModelSpec]) -> None:
    with pytest.raises(DuplicateNameError, match="'builtin' and 'other'"):
        registry.add(_spec("hlsnc"), plugin="other")


def test_names_are_sorted(registry: Registry[ModelSpec]) -> None:
    assert registry.names() == ["cyclegan", "hlsnc", "pix2pix"]
    assert len(registry) == 3
