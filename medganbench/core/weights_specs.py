"""Pretrained weights as components: a :class:`WeightsSpec` names a pinned file and the
:class:`Source` objects that can provide it (re-exported by :mod:`medganbench.core.specs`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from medganbench.core.names import is_component_name
from medganbench.errors import PluginError

#: Called with a short status line while a weights source works (the CLI shows it).
Reporter = Callable[[str], None]


class Source(ABC):
    """One way of obtaining the raw file behind a weights artifact, and converting it.

    A source pins the sha256 of its raw file. Nothing a source hands on has not been checked
    against that pin first: :meth:`obtain` verifies what it fetched, and :meth:`read_verified`
    verifies a file a person placed by hand (or a member of an archive) in memory, before any of
    it is written anywhere or opened as weights.

    Attributes:
        convert: ``"module:function"``; the function takes the verified raw file's path and
            returns the artifact's tensors (a dict name → tensor). It must read the file with a
            reader that cannot run code (``torch.load(weights_only=True)``, a restricted
            unpickler, TorchScript's loader, safetensors).
    """

    convert: str

    @property
    @abstractmethod
    def pinned_sha256(self) -> str:
        """The raw file's sha256 (64 hex digits), or the prefix its publisher pins; empty when
        medganbench holds no pin and the source checks the file against its publisher's own
        record when it fetches it (a model hub). Files of such a source are used unverified."""

    def matches(self, sha256: str) -> bool:
        """Whether a file with this full sha256 is this source's raw file (never, unpinned)."""
        pin = self.pinned_sha256
        if not pin:
            return False
        return sha256 == pin if len(pin) == 64 else sha256.startswith(pin)

    @property
    @abstractmethod
    def label(self) -> str:
        """One line naming the source, for listings and error messages."""

    @property
    def fetched_label(self) -> str:
        """How a file this source fetched was checked, for rows and listings; default
        :attr:`label`."""
        return self.label

    @abstractmethod
    def obtain(self, workdir: Path, report: Reporter) -> Path:
        """Fetch the raw file into ``workdir`` and verify it; return its path.

        Raises:
            Exception: any failure (network, missing package, hash mismatch); the resolver
                records its message and tries the next source.
        """

    @abstractmethod
    def read_verified(self, path: Path) -> bytes | None:
        """The raw file's bytes if ``path`` is it (or an archive holding it), else ``None``.

        Reads into memory only: nothing is extracted to disk before the hash is checked.
        """

    @property
    @abstractmethod
    def manual_hint(self) -> str:
        """How a person can get this source's file onto an offline machine."""


@dataclass(frozen=True)
class WeightsSpec:
    """A named weights artifact (``medganbench_weights`` hook); resolved by
    :func:`medganbench.weights.store.resolve_weights`.

    Attributes:
        name: the artifact's name, e.g. ``"fid-inception"``.
        summary: one line for ``medganbench weights list``.
        sources: tried in order after the cache and the explicit file.
    """

    name: str
    summary: str
    sources: tuple[Source, ...] = field(default=())

    @property
    def unpinned_source(self) -> Source | None:
        """The first source without a pinned sha256, if any: files that match no pin are then
        used as unverified weights of that source (see :mod:`medganbench.weights.store`)."""
        return next((s for s in self.sources if not s.pinned_sha256), None)

    def __post_init__(self) -> None:
        # The name becomes a cache folder and an environment variable.
        if not is_component_name(self.name):
            raise PluginError(
                f"Weights artifact name {self.name!r} is invalid.",
                hint="Use lower case letters, digits and hyphens, starting with a letter.",
            )

    @property
    def env_var(self) -> str:
        """The environment variable naming an explicit file for this artifact."""
        return "MEDGANBENCH_WEIGHTS_" + self.name.upper().replace("-", "_")


__all__ = ["Reporter", "Source", "WeightsSpec"]
