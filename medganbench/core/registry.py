"""Name → spec registries that reject duplicates and suggest close names."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from medganbench.errors import DuplicateNameError, UnknownNameError


class Named(Protocol):
    """What a registry needs of a spec: its name (component specs and weights specs have one)."""

    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=Named)


@dataclass(frozen=True)
class Entry(Generic[S]):
    """A registered spec and the plugin that registered it."""

    spec: S
    plugin: str


class Registry(Generic[S]):
    """Specs of one kind (``"model"``, ``"dataset"`` or ``"metric"``), keyed by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[S]] = {}

    def add(self, spec: S, plugin: str) -> None:
        """Register ``spec`` as provided by ``plugin``.

        Raises:
            DuplicateNameError: the name is taken; the message names both plugins.
        """
        existing = self._entries.get(spec.name)
        if existing is not None:
            raise DuplicateNameError(
                f"Two plugins register a {self.kind} named {spec.name!r}: "
                f"{existing.plugin!r} and {plugin!r}.",
                hint="Uninstall one of them, or disable autoloading with "
                "MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD=1.",
            )
        self._entries[spec.name] = Entry(spec, plugin)

    def get(self, name: str) -> S:
        """Return the spec registered as ``name``.

        Raises:
            UnknownNameError: no such name; the message suggests close names and lists all.
        """
        return self.entry(name).spec

    def entry(self, name: str) -> Entry[S]:
        """Return the :class:`Entry` for ``name`` (see :meth:`get`)."""
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            suggestion = f"Did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}.",
                hint=f"{suggestion}Known {self.kind}s: {', '.join(sorted(self._entries)) or '(none)'}",
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry[S]]:
        """Registered entries, sorted by name."""
        for name in self.names():
            yield self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
