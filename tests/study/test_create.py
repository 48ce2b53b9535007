"""``create_study``: balanced, seeded, blinded blocks of real and synthetic images from runs, and
one clear refusal for every study that would not compare like with like."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import struct
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from medganbench import api
from medganbench.core.geometry import VolumeGeometry
from medganbench.core.manager import Registries
from medganbench.errors import DataError, UsageError
from medganbench.run.export import resolve_dataset
from medganbench.run.options import RunOptions
from medganbench.run.prepare import build_dataset
from medganbench.study.create import create_study
from medganbench.study.formats import (
    REAL,
    SYNTHETIC,
    StudyKey,
    StudyManifest,
    manifest_sha256,
    read_key,
    read_manifest,
)
from medganbench.study.page import render_page
from tests.study.conftest import MODELS, SMALL, TEST_ITEMS, StudyRuns
from tests.trained.builders import INFO, write_folder

N = 8


@dataclasses.dataclass(frozen=True)
class Built:
    out: Path
    key: StudyKey


@pytest.fixture(scope="module")
def studies(
    study_runs: StudyRuns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Built]]:
    """The runs' study with seed 1, the same again, and one with seed 2."""
    root = tmp_path_factory.mktemp("studies")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDGANBENCH_HOME", str(tmp_path_factory.getbasetemp() / "home"))
        patch.setenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
        built = {}
        for name, seed, runs in (
            ("first", 1, study_runs.runs),
            ("again", 1, study_runs.runs[::-1]),  # named in the other order
            ("other", 2, study_runs.runs),
        ):
            built[name] = Built(root / name, create_study(runs, N, root / name, seed=seed))
        yield built


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _png_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a PNG file, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append(data[at + 4 : at + 8])
        at += 12 + length
    return chunks


def _windowed(image: torch.Tensor, window: tuple[float, float]) -> np.ndarray:
    low, high = window
    unit = np.clip((image.double().numpy()[0] - low) / (high - low), 0.0, 1.0)
    grey: np.ndarray = np.rint(unit * 255.0).astype(np.uint8)
    return grey


def test_every_run_gets_a_balanced_block_of_n_trials(
    studies: dict[str, Built], study_runs: StudyRuns
) -> None:
    key = studies["first"].key
    counts = Counter((t.block, t.truth) for t in key.trials.values())
    run_ids = {run.name for run in study_runs.runs}
    assert counts == {(r, truth): N // 2 for r in run_ids for truth in (REAL, SYNTHETIC)}
    manifest = read_manifest(studies["first"].out / "reader" / "study.json")
    assert sorted(manifest.trials) == sorted(key.trials) and len(manifest.trials) == 2 * N


def test_a_block_never_shows_the_real_and_the_synthetic_image_of_one_item(
    studies: dict[str, Built],
) -> None:
    key = studies["first"].key
    for block in key.runs:
        items = {
            truth: [t.item for t in key.trials.values() if t.block == block and t.truth == truth]
            for truth in (REAL, SYNTHETIC)
        }
        assert len(set(items[REAL] + items[SYNTHETIC])) == N
        assert all(0 <= i < TEST_ITEMS for i in items[REAL] + items[SYNTHETIC])


def test_the_same_seed_gives_the_same_files_whatever_the_runs_order(
    studies: dict[str, Built],
) -> None:
    assert _files(studies["first"].out) == _files(studies["again"].out)


def test_another_seed_gives_other_ids_and_another_signature(studies: dict[str, Built]) -> None:
    first, other = studies["first"].key, studies["other"].key
    assert not set(first.trials) & set(other.trials)
    assert first.study_sha256 != other.study_sha256


def test_images_are_the_windowed_real_and_translated_images_as_8_bit_grey(
    studies: dict[str, Built], study_runs: StudyRuns
) -> None:
    built = studies["first"]
    split = api.load_split("phantom-brain", "test", image_size=32, dataset_args=SMALL)
    generators = {run.name: api.load_generator(run, device="cpu") for run in study_runs.runs}
    for trial, truth in built.key.trials.items():
        with Image.open(built.out / "reader" / "images" / f"{trial}.png") as picture:
            assert picture.mode == "L" and picture.size == (32, 32)
            shown = np.asarray(picture)
        item = split[truth.item]
        image = (
            item["b"]
            if truth.truth == REAL
            else generators[truth.block].translate(item["a"][None])[0]
        )
        np.testing.assert_array_equal(shown, _windowed(image, built.key.window))
    assert built.key.window == (-1024.0, 3000.0)  # the phantom's CT window


def test_images_carry_no_metadata(studies: dict[str, Built]) -> None:
    for path in (studies["first"].out / "reader" / "images").iterdir():
        data = path.read_bytes()
        assert _png_chunks(data) == [b"IHDR", b"IDAT", b"IEND"], path.name
        with Image.open(io.BytesIO(data)) as picture:
            assert picture.info == {}


def test_the_reader_folder_holds_the_page_the_manifest_and_one_image_per_opaque_id(
    studies: dict[str, Built],
) -> None:
    built = studies["first"]
    names = set(_files(built.out / "reader"))
    ids = set(built.key.trials)
    assert names == {"index.html", "study.json"} | {f"images/{i}.png" for i in ids}
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)


def test_the_manifest_holds_ids_and_image_paths_only(studies: dict[str, Built]) -> None:
    built = studies["first"]
    raw = json.loads((built.out / "reader" / "study.json").read_text())
    assert set(raw) == {"format", "title", "confidence_levels", "quality_levels", "trials"}
    assert all(set(entry) == {"id", "image"} for entry in raw["trials"])
    assert manifest_sha256(read_manifest(built.out / "reader" / "study.json")) == (
        built.key.study_sha256
    )


def test_the_key_is_outside_the_reader_folder_and_reads_back(studies: dict[str, Built]) -> None:
    built = studies["first"]
    assert read_key(built.out / "key.json") == built.key
    assert sorted(p.name for p in built.out.iterdir()) == ["key.json", "reader"]


def test_nothing_under_reader_names_a_run_a_model_or_a_truth(studies: dict[str, Built]) -> None:
    built = studies["first"]
    secrets = [*built.key.runs, *MODELS, '"truth"', '"block"', '"item"', "phantom", "key.json"]
    for name, data in _files(built.out / "reader").items():
        text = data.decode("latin-1").lower()
        assert not [s for s in secrets if s in text], name
        if name != "index.html":  # the page's buttons are labelled Real and Synthetic
            assert "real" not in text and "synthetic" not in text, name


def test_the_page_is_one_template_whatever_the_study(studies: dict[str, Built]) -> None:
    # Everything but the data block is the same for two studies with other truths per place in
    # the sequence, so the page cannot carry the key.
    pattern = re.compile(r'(<script type="application/json" id="study">)(.*?)(</script>)', re.S)
    pages = {}
    for name in ("first", "other"):
        html = (studies[name].out / "reader" / "index.html").read_text()
        data = json.loads(pattern.search(html).group(2))  # type: ignore[union-attr]
        manifest = json.loads((studies[name].out / "reader" / "study.json").read_text())
        assert data == {"study_sha256": studies[name].key.study_sha256, "manifest": manifest}
        pages[name] = pattern.sub(r"\1\3", html)
    assert pages["first"] == pages["other"]
    assert "<script src" not in pages["first"] and not re.search(r"https?:", pages["first"])


def test_a_title_cannot_break_out_of_the_page() -> None:
    title = "</script><script>alert(1)</script> & <b>"
    manifest = StudyManifest(title, ("0123456789abcdef",))
    page = render_page(manifest, "ab" * 32)
    assert page.count("</script>") == 2 and "<script>alert" not in page and "<b>" not in page
    block = page.split('id="study">', 1)[1].split("</script>", 1)[0]
    assert json.loads(block)["manifest"]["title"] == title


def test_the_key_records_each_runs_identity(
    studies: dict[str, Built], study_runs: StudyRuns
) -> None:
    runs = studies["first"].key.runs
    for run, model in zip(study_runs.runs, MODELS, strict=True):
        identity = runs[run.name]
        spec = json.loads((run / "spec.json").read_text())
        config = json.loads((run / "generator.json").read_text())
        assert identity["model"] == model and identity["direction"] == "a2b"
        assert identity["dataset_fingerprint"] == config["dataset_fingerprint"]
        assert {k: identity[k] for k in spec if k != "run_id"} == {
            k: v for k, v in spec.items() if k != "run_id"
        }
    assert studies["first"].key.split == "test"


def test_a_quality_study_asks_five_levels(study_runs: StudyRuns, tmp_path: Path) -> None:
    create_study(study_runs.runs[:1], 2, tmp_path / "q", quality=True, title="Pilot")
    manifest = read_manifest(tmp_path / "q" / "reader" / "study.json")
    assert (manifest.title, manifest.confidence_levels, manifest.quality_levels) == (
        "Pilot",
        5,
        5,
    )


def test_a_sampling_runs_block_is_its_samples_and_real_images(
    registries: Registries, tmp_path: Path
) -> None:
    args = {**SMALL, "domain": "b"}
    built = build_dataset(
        resolve_dataset(registries, "phantom-brain", args, 32), registries, RunOptions()
    )
    run = tmp_path / "sampler"
    config = write_folder(
        run, registries, "dcgan", {"ngf": 4, "ndf": 4, "z_dim": 8},
        dataset_args=args, dataset_fingerprint=built.fingerprint(), dataset_info=built.info,
    )  # fmt: skip
    key = create_study([run], 6, tmp_path / "s", registries=registries)
    synthetic = sorted(t.item for t in key.trials.values() if t.truth == SYNTHETIC)
    real = [t.item for t in key.trials.values() if t.truth == REAL]
    assert synthetic == [0, 1, 2] and len(set(real)) == 3 and key.split == "test"
    assert set(key.runs) == {config.run_id} and key.runs[config.run_id]["task"] == "sample"
    reals = {_windowed(built.split("test")[i]["b"], key.window).tobytes() for i in range(16)}
    for trial, truth in key.trials.items():
        with Image.open(tmp_path / "s" / "reader" / "images" / f"{trial}.png") as picture:
            assert (np.asarray(picture).tobytes() in reals) == (truth.truth == REAL)


# ------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("n", [7, 0])
def test_an_odd_or_empty_block_is_refused(study_runs: StudyRuns, tmp_path: Path, n: int) -> None:
    with pytest.raises(UsageError, match="even number of trials, half real and half synthetic"):
        create_study(study_runs.runs, n, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_split_too_small_for_disjoint_items_is_refused(
    study_runs: StudyRuns, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match=r"has 16 items; a block of 18 trials needs 18") as err:
        create_study(study_runs.runs, 18, tmp_path / "s")
    assert err.value.hint == "Use --n 16 or less."
    assert not (tmp_path / "s").exists()


def test_runs_on_other_dataset_arguments_are_refused(study_runs: StudyRuns, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="differ in dataset arguments"):
        create_study([*study_runs.runs, study_runs.elsewhere], 2, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_folder_without_a_generator_is_refused(study_runs: StudyRuns, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(study_runs.runs[0] / "spec.json", bare / "spec.json")
    with pytest.raises(UsageError, match=f"{bare} holds no generator"):
        create_study([study_runs.runs[1], bare], 2, tmp_path / "s")


def test_a_run_named_twice_is_refused(study_runs: StudyRuns, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"Run {study_runs.runs[0].name} is named twice"):
        create_study([study_runs.runs[0], study_runs.runs[0]], 2, tmp_path / "s")


def test_a_3d_run_is_refused(registries: Registries, tmp_path: Path) -> None:
    volume = dataclasses.replace(INFO, volume=VolumeGeometry((8, 32, 32), None, "SPL"))
    write_folder(tmp_path / "v", registries, "identity", {}, dataset_info=volume)
    with pytest.raises(UsageError, match="3-D run .* 2-D images only for now"):
        create_study([tmp_path / "v"], 2, tmp_path / "s", registries=registries)


def test_a_study_folder_that_holds_files_is_refused(study_runs: StudyRuns, tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="already holds files"):
        create_study(study_runs.runs, 2, tmp_path / "s")


def test_data_other_than_the_runs_are_refused(
    registries: Registries, study_runs: StudyRuns, tmp_path: Path
) -> None:
    config: dict[str, Any] = json.loads((study_runs.runs[0] / "generator.json").read_text())
    folder = tmp_path / "moved"
    shutil.copytree(study_runs.runs[0], folder)
    config["dataset_fingerprint"] = "0" * 16
    (folder / "generator.json").write_text(json.dumps(config))
    with pytest.raises(DataError, match="are not the data run .* was evaluated on"):
        create_study([folder], 2, tmp_path / "s", registries=registries)
