"""``medganbench generate``: samples in the domain's units, with a manifest, the same for the
same seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medganbench import api
from medganbench.core.manager import Registries
from tests.cli_runner import cli_in_process
from tests.trained.builders import INFO, write_folder


@pytest.fixture
def sampler(tmp_path: Path, registries: Registries) -> Path:
    write_folder(tmp_path / "gen", registries, "dcgan", {"ngf": 8, "ndf": 8})
    return tmp_path / "gen"


def _generate(folder: Path, cwd: Path, out: str, *extra: str) -> list[np.ndarray]:
    done = cli_in_process("generate", str(folder), "--n", "18", "--out", out, *extra, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return [np.load(p) for p in sorted((cwd / out).glob("*.npy"))]


def test_the_same_seed_gives_the_same_files_and_another_seed_others(
    sampler: Path, tmp_path: Path
) -> None:
    first = _generate(sampler, tmp_path, "one", "--seed", "4")
    again = _generate(sampler, tmp_path, "two", "--seed", "4")
    other = _generate(sampler, tmp_path, "three", "--seed", "5")
    assert len(first) == 18 and all(a.shape == (1, 32, 32) for a in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_samples_are_in_the_domains_units_within_its_window(sampler: Path, tmp_path: Path) -> None:
    images = np.stack(_generate(sampler, tmp_path, "out"))
    low, high = INFO.b.window
    assert images.dtype == np.float32
    assert low <= images.min() and images.max() <= high
    # An untrained generator's outputs are near 0 in [-1, 1]: the window's middle, 988 HU.
    assert abs(float(images.mean()) - sum(INFO.b.window) / 2) < 100


def test_the_manifest_names_the_run_weights_seed_and_window(sampler: Path, tmp_path: Path) -> None:
    _generate(sampler, tmp_path, "out", "--seed", "7", "--format", "npy")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    config = json.loads((sampler / "generator.json").read_text())
    assert manifest["command"] == "generate" and manifest["seed"] == 7 and manifest["n"] == 18
    assert manifest["run_id"] == config["run_id"] and manifest["model"] == "dcgan"
    assert manifest["weights_sha256"] == config["weights_sha256"]
    assert manifest["domain"]["units"] == "HU" and manifest["domain"]["window"] == [-1024.0, 3000.0]
    assert manifest["files"] == [f"{i:05d}.npy" for i in range(18)]


def test_png_samples_map_the_window_onto_the_grey_range(sampler: Path, tmp_path: Path) -> None:
    done = cli_in_process(
        "generate", str(sampler), "--n", "2", "--out", "png", "--format", "png", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "00000.png", "00001.png", "manifest.json",
    ]  # fmt: skip


def test_the_api_returns_what_the_command_writes(sampler: Path, tmp_path: Path) -> None:
    files = _generate(sampler, tmp_path, "out", "--seed", "3")
    tensor = api.generate(sampler, 18, seed=3, device="cpu")
    assert torch.equal(tensor, torch.from_numpy(np.stack(files)))


def test_a_translation_model_is_pointed_to_translate(
    tmp_path: Path, registries: Registries
) -> None:
    write_folder(tmp_path / "p2p", registries, "pix2pix", {"ngf": 8, "ndf": 8})
    done = cli_in_process("generate", "p2p", "--n", "2", "--out", "o", cwd=tmp_path)
    assert done.returncode == 2
    assert "medganbench translate" in done.stderr and "Traceback" not in done.stderr
