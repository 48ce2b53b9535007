"""The image-file datasets (unpaired-folder, paired-folder, kaggle-brain, covid-ct) on folder
trees generated in ``tmp_path``: decoding, validation (strict/lenient), splits, fingerprint,
slice cache, root lookup, download instructions, and one run through the real runner."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from medganbench.core.dataset import SPLITS, DatasetContext
from medganbench.core.manager import Registries
from medganbench.data import ImageFileError, InputProblems, list_images, load_image
from medganbench.data import SlicesDataset as FolderDataset
from medganbench.errors import DataError
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench_plugins.datasets import covid_ct, kaggle_brain
from medganbench_plugins.datasets.image_folders import paired_folder, unpaired_folder

SIZE = 32

# --------------------------------------------------------------------------------------------
# Generated files


def _pixels(seed: int, shape: tuple[int, int], rgb: bool = False) -> np.ndarray:
    """A bright noisy disc on a dark background (so body masks are not empty)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    disc = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (min(h, w) / 3) ** 2
    gray = np.where(disc, 120 + rng.integers(0, 120, size=shape), rng.integers(0, 8, size=shape))
    gray = gray.astype(np.uint8)
    return np.stack([gray, gray // 2, gray], axis=-1) if rgb else gray


def _write(path: Path, seed: int, shape: tuple[int, int] = (40, 40), rgb: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_pixels(seed, shape, rgb)).save(path)
    return path


def _truncate(path: Path) -> Path:
    """Cut a written image in half: the header is fine, the pixel data are not."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _folder(folder: Path, n: int, seed: int, prefix: str) -> None:
    """``n`` images alternating PNG/JPG, gray/RGB, square/non-square."""
    for i in range(n):
        suffix = ".png" if i % 2 == 0 else ".jpg"
        shape = (40, 40) if i % 3 else (48, 36)
        _write(folder / f"{prefix}{1000 + i}{suffix}", seed * 100 + i, shape, rgb=i % 2 == 1)


def _kaggle_tree(
    root: Path, n: int = 6, corrupt: bool = False, junk: bool = False, empty: str = ""
) -> Path:
    """``root/Dataset/images/{trainA,trainB,testA,testB}`` with ``n`` images each."""
    images = root / "Dataset" / "images"
    for k, name in enumerate(("trainA", "trainB", "testA", "testB")):
        (images / name).mkdir(parents=True)
        if name != empty:
            _folder(images / name, n, k, "ct" if name.endswith("A") else "mri")
    if corrupt:
        _truncate(_write(images / "trainA" / "ct_broken.png", 99, (64, 64)))
    if junk:
        (images / "trainB" / "notes.txt").write_text("not an image")
    return images


def _ctx(tmp_path: Path, name: str = "cache", data_dir: Path | None = None) -> DatasetContext:
    return DatasetContext(SIZE, tmp_path / name, data_dir)


KAGGLE_ARGS = {"a_dir": "{split}B", "b_dir": "{split}A"}


# --------------------------------------------------------------------------------------------
# image_files


def test_load_image_gray_rgb_sixteen_bit_and_padding(tmp_path: Path) -> None:
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    out = load_image(tmp_path / "rgb.png", 20)
    assert out.shape == (1, 20, 20) and out.dtype == torch.float32
    luma = 0.299 * 200 + 0.587 * 100 + 0.114 * 50
    assert out[0, 10, 10].item() == pytest.approx(luma, abs=1e-3)
    # Padded (rows 0..4 and 15..19) with the image minimum, which here is the luma itself.
    assert out.min().item() == pytest.approx(luma, abs=1e-3)
    assert load_image(tmp_path / "rgb.png", 8, channels=3).shape == (3, 8, 8)

    ramp = np.zeros((8, 8), np.uint16)
    ramp[:, 4:] = 65535
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    deep = load_image(tmp_path / "deep.png", 8)
    assert deep.max().item() == pytest.approx(255.0) and deep.min().item() == 0.0

    padded = np.full((4, 8), 90, np.uint8)
    padded[0, 0] = 10
    Image.fromarray(padded).save(tmp_path / "wide.bmp")
    square = load_image(tmp_path / "wide.bmp", 8)
    assert square[0, 0, 4].item() == 10.0  # the pad rows carry the minimum, not 0
    assert square.min() >= 0.0 and square.max() <= 255.0


def test_load_image_rejects_corrupt_and_non_images(tmp_path: Path) -> None:
    broken = _truncate(_write(tmp_path / "broken.png", 1, (64, 64)))
    with pytest.raises(ImageFileError, match="truncated"):
        load_image(broken, SIZE)
    (tmp_path / "fake.png").write_text("hello")
    with pytest.raises(ImageFileError, match="not a readable image"):
        load_image(tmp_path / "fake.png", SIZE)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageFileError):
        load_image(tmp_path / "empty.jpg", SIZE)


def test_list_images_reports_non_images_and_empty_folders(tmp_path: Path) -> None:
    _folder(tmp_path / "f", 3, 0, "x")
    (tmp_path / "f" / "readme.md").write_text("x")
    (tmp_path / "f" / ".DS_Store").write_text("x")
    with pytest.raises(DataError, match="readme.md"):
        list_images(tmp_path / "f", InputProblems(strict=True))
    lenient = InputProblems(strict=False)
    assert [p.name for p in list_images(tmp_path / "f", lenient)] == [
        "x1000.png",
        "x1001.jpg",
        "x1002.png",
    ]
    assert [w for w, _ in lenient.problems] == ["f/readme.md"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty holds no image files"):
        list_images(tmp_path / "empty")


# --------------------------------------------------------------------------------------------
# unpaired-folder (Kaggle layout)


def test_unpaired_folder_reads_a_kaggle_tree_leniently(tmp_path: Path) -> None:
    images = _kaggle_tree(tmp_path / "data", corrupt=True, junk=True)
    ds = unpaired_folder({"root": str(images), **KAGGLE_ARGS, "strict": False}, _ctx(tmp_path))
    assert isinstance(ds, FolderDataset) and not ds.info.paired
    assert ds.info.a.units == "8-bit display value" and ds.info.a.window == (0.0, 255.0)
    summary = ds.problems_summary
    assert "trainA/ct_broken.png" in summary and "trainB/notes.txt" in summary
    assert ds.split_sizes()["test"] == 6
    # Per domain, train + val hold every good training file (junk and the corrupt one left out).
    assert ds.split("train").a.shape[0] + ds.split("val").a.shape[0] == 6
    assert ds.split("train").b.shape[0] + ds.split("val").b.shape[0] == 6
    for name in ("train", "test"):
        item = ds.split(name)[0]
        assert item["a"].shape == item["b"].shape == (1, SIZE, SIZE)
        assert item["mask_a"].dtype == torch.bool and item["mask_a"].shape == (1, SIZE, SIZE)
        assert item["mask_a"].any() and item["a"].min() >= 0.0 and item["a"].max() <= 255.0
    # Every delivered file has one split; the corrupt one is not delivered.
    record = ds.split_record
    assert len(record) == 24 and "trainA/ct_broken.png" not in record
    assert {record[k] for k in record if k.startswith("test")} == {"test"}
    assert {record[k] for k in record if k.startswith("train")} == {"train", "val"}


def test_strict_names_the_corrupt_file(tmp_path: Path) -> None:
    images = _kaggle_tree(tmp_path / "data", corrupt=True)
    with pytest.raises(DataError, match="trainA/ct_broken.png"):
        unpaired_folder({"root": str(images), **KAGGLE_ARGS}, _ctx(tmp_path))


def test_an_empty_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    images = _kaggle_tree(tmp_path / "data", empty="testA")
    with pytest.raises(DataError, match="testA"):
        unpaired_folder({"root": str(images), **KAGGLE_ARGS}, _ctx(tmp_path))


def test_ratio_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    _folder(tmp_path / "data" / "A", 20, 1, "a")
    _folder(tmp_path / "data" / "B", 15, 2, "b")
    args = {"root": str(tmp_path / "data"), "val_fraction": 0.2, "test_fraction": 0.2}
    first = unpaired_folder(args, _ctx(tmp_path, "c1")).split_record
    again = unpaired_folder(args, _ctx(tmp_path, "c2")).split_record
    other = unpaired_folder({**args, "seed": 5}, _ctx(tmp_path, "c3")).split_record
    assert first == again and first != other
    assert len(first) == 35  # every file in exactly one split
    by_split = {s: {k for k, v in first.items() if v == s} for s in SPLITS}
    assert len([k for k in by_split["test"] if k.startswith("A/")]) == 4
    assert all(by_split[x].isdisjoint(by_split[y]) for x in SPLITS for y in SPLITS if x != y)


def test_split_subfolders_and_stray_files(tmp_path: Path) -> None:
    for dom in ("A", "B"):
        for split in ("train", "val", "test"):
            _folder(tmp_path / "data" / dom / split, 2, 3, dom.lower())
    _write(tmp_path / "data" / "A" / "stray.png", 1)
    with pytest.raises(DataError, match="A/stray.png"):
        unpaired_folder({"root": str(tmp_path / "data")}, _ctx(tmp_path))
    ds = unpaired_folder({"root": str(tmp_path / "data"), "strict": False}, _ctx(tmp_path))
    assert (
        ds.split_sizes() == {"train": 2, "val": 2, "test": 2}
        and "A/stray.png" in ds.problems_summary
    )


def test_group_by_keeps_a_patient_in_one_split(tmp_path: Path) -> None:
    for patient in range(6):
        for s in range(3):
            for dom in ("A", "B"):
                _write(tmp_path / "data" / dom / f"p{patient}_s{s}.png", patient * 10 + s)
    args = {
        "root": str(tmp_path / "data"),
        "group_by": r"^p\d+",
        "val_fraction": 0.2,
        "test_fraction": 0.2,
    }
    record = unpaired_folder(args, _ctx(tmp_path)).split_record
    for patient in range(6):
        assert len({v for k, v in record.items() if f"/p{patient}_" in k}) == 1


def test_fingerprint_changes_when_a_file_is_added_and_the_cache_is_hit(tmp_path: Path) -> None:
    images = _kaggle_tree(tmp_path / "data")
    args = {"root": str(images), **KAGGLE_ARGS}
    first = unpaired_folder(args, _ctx(tmp_path))
    cache_dir = _ctx(tmp_path).cache_dir / "slices"
    assert not first.from_cache and list(cache_dir.glob("slices-*.pt"))
    second = unpaired_folder(args, _ctx(tmp_path))
    assert second.from_cache and second.fingerprint() == first.fingerprint()
    for name in SPLITS:
        assert torch.equal(first.split(name).a, second.split(name).a)
        assert torch.equal(first.split(name).mask_b, second.split(name).mask_b)
    record_file = cache_dir / f"split-record-{first.fingerprint()}.json"
    assert json.loads(record_file.read_text())["splits"] == first.split_record
    _write(images / "testB" / "mri2000.png", 7)
    third = unpaired_folder(args, _ctx(tmp_path))
    assert third.fingerprint() != first.fingerprint() and not third.from_cache


# --------------------------------------------------------------------------------------------
# paired-folder


def _paired_tree(root: Path, stems: dict[str, list[str]], extra_mri: str = "") -> Path:
    """``{split}MRI``/``{split}CT`` folders; A and B of a stem hold the same pixels."""
    for split, names in stems.items():
        for k, stem in enumerate(names):
            seed = hash((split, k)) % 1000
            _write(root / f"{split}MRI" / f"{stem}.png", seed)
            _write(root / f"{split}CT" / f"{stem}.png", seed)
    if extra_mri:
        _write(root / "trainMRI" / f"{extra_mri}.png", 5)
    return root


PAIRED_STEMS = {"train": [f"s{i:02d}" for i in range(8)], "test": ["t0", "t1", "t2"]}
PAIRED_ARGS = {"a_dir": "{split}MRI", "b_dir": "{split}CT"}


def test_paired_folder_pairs_by_stem(tmp_path: Path) -> None:
    root = _paired_tree(tmp_path / "data", PAIRED_STEMS)
    ds = paired_folder({"root": str(root), **PAIRED_ARGS}, _ctx(tmp_path))
    assert ds.info.paired and ds.split_sizes()["test"] == 3
    assert ds.split_sizes()["train"] + ds.split_sizes()["val"] == 8
    for name in SPLITS:
        split = ds.split(name)
        for i in range(len(split)):
            item = split[i]
            assert torch.equal(item["a"], item["b"]) and torch.equal(item["mask_a"], item["mask_b"])
    # A and B of a pair went to the same split.
    for stem in PAIRED_STEMS["train"]:
        assert ds.split_record[f"trainMRI/{stem}.png"] == ds.split_record[f"trainCT/{stem}.png"]


def test_paired_folder_reports_unmatched_stems(tmp_path: Path) -> None:
    root = _paired_tree(tmp_path / "data", PAIRED_STEMS, extra_mri="lonely")
    with pytest.raises(DataError, match="lonely"):
        paired_folder({"root": str(root), **PAIRED_ARGS}, _ctx(tmp_path))
    ds = paired_folder({"root": str(root), **PAIRED_ARGS, "strict": False}, _ctx(tmp_path))
    assert "trainMRI/lonely.png" in ds.problems_summary and len(ds.problems) == 1
    assert ds.split_sizes()["train"] + ds.split_sizes()["val"] == 8


# --------------------------------------------------------------------------------------------
# kaggle-brain


def test_kaggle_counts_are_compared_with_the_published_ones(tmp_path: Path) -> None:
    images = _kaggle_tree(tmp_path / "data", n=3)
    assert kaggle_brain.looks_valid(tmp_path / "data") and kaggle_brain.looks_valid(images)
    assert kaggle_brain.images_dir(images) == images
    mismatches = dict(kaggle_brain.count_mismatches(images))
    assert mismatches["trainA"] == "expected 1742 image files, found 3"
    assert sum(kaggle_brain.EXPECTED_COUNTS.values()) == 4974
    with pytest.raises(DataError, match=r"trainA: expected 1742 image files, found 3"):
        kaggle_brain.KaggleBrain({}, _ctx(tmp_path, data_dir=tmp_path / "data"))
    ds = kaggle_brain.KaggleBrain({"strict": False}, _ctx(tmp_path, data_dir=tmp_path / "data"))
    assert not ds.info.paired and ds.info.a.modality == "MR" and ds.info.b.modality == "CT"
    assert any(w == "testB" and "expected 744" in p for w, p in ds.problems)
    # Domain A is MR (Kaggle's B folders): the default direction is MR → CT.
    assert all(k.startswith(("trainB", "testB")) for k in ds.split_record if "mri" in k)
    assert ds.split_sizes()["test"] == 3


def test_kaggle_missing_root_explains_how_to_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDGANBENCH_DATA_KAGGLE_BRAIN", raising=False)
    with pytest.raises(DataError) as err:
        kaggle_brain.KaggleBrain({}, _ctx(tmp_path, data_dir=tmp_path / "nowhere"))
    hint = err.value.hint or ""
    assert "kaggle datasets download -d darren2020/ct-to-mri-cgan" in hint and "--unzip" in hint
    assert "MEDGANBENCH_DATA_KAGGLE_BRAIN" in hint
    assert kaggle_brain.locate({}, _ctx(tmp_path)) is None


def test_kaggle_download_without_a_client_gives_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no kaggle CLI on PATH
    if kaggle_brain.kaggle_client() is not None:
        pytest.skip("kagglehub is installed here")
    target = tmp_path / "target"
    with pytest.raises(DataError, match="no Kaggle client") as err:
        kaggle_brain.download({}, _ctx(tmp_path, data_dir=target), lambda message: None)
    assert f"kaggle datasets download -d darren2020/ct-to-mri-cgan -p {target} --unzip" in (
        err.value.hint or ""
    )
    assert not target.exists()  # nothing was attempted


# --------------------------------------------------------------------------------------------
# covid-ct


def _zip(path: Path, folder: str, n: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(n):
            buffer = io.BytesIO()
            Image.fromarray(_pixels(seed + i, (40 + i, 44), rgb=i % 2 == 1)).save(
                buffer, format="PNG"
            )
            archive.writestr(f"{folder}/{i}.png", buffer.getvalue())
        archive.writestr(f"__MACOSX/{folder}/._0.png", b"mac junk")


def test_covid_ct_from_zips(tmp_path: Path) -> None:
    base = tmp_path / "covid" / "Images-processed"
    _zip(base / "CT_NonCOVID.zip", "CT_NonCOVID", 10, 0)
    _zip(base / "CT_COVID.zip", "CT_COVID", 6, 50)
    ctx = _ctx(tmp_path, data_dir=tmp_path / "covid")
    with pytest.raises(DataError, match="expected 463 image files, found 10"):
        covid_ct.CovidCT({}, ctx)
    ds = covid_ct.CovidCT({"strict": False}, ctx)
    assert not ds.info.paired and ds.info.a == ds.info.b and ds.info.b.modality == "CT"
    assert sum(ds.split_sizes().values()) == 10 and "expected 463" in ds.problems_summary
    item = ds.split("train")[0]
    assert torch.equal(item["a"], item["b"]) and item["a"].shape == (1, SIZE, SIZE)
    assert item["mask_b"].dtype == torch.bool
    both = covid_ct.CovidCT({"strict": False, "subset": "all"}, ctx)
    assert sum(both.split_sizes().values()) == 16 and len(both.split_record) == 16
    assert covid_ct.locate({"subset": "all"}, ctx) == tmp_path / "covid"


def test_covid_ct_missing_root_explains_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        covid_ct.CovidCT({}, _ctx(tmp_path, data_dir=tmp_path / "nowhere"))
    assert "git clone" in (err.value.hint or "") and "MEDGANBENCH_DATA_COVID_CT" in (
        err.value.hint or ""
    )


# --------------------------------------------------------------------------------------------
# Through the runner


def test_paired_folder_end_to_end(
    tmp_path: Path, registries: Registries, dirs: dict[str, Path]
) -> None:
    root = _paired_tree(tmp_path / "data", PAIRED_STEMS)
    spec = RunSpec(
        model="identity",
        dataset="paired-folder",
        dataset_args={"root": str(root), **PAIRED_ARGS},
        image_size=SIZE,
        budget=Budget(steps=1),
        metrics=("psnr",),
    )
    result = execute_run(spec, registries, RunOptions(progress=False, **dirs))
    # A and B hold identical pixels, so the identity translation is perfect (or near it).
    assert math.isinf(result.metrics["psnr"]) or result.metrics["psnr"] > 40


def test_covid_ct_from_extracted_folders_of_a_clone(tmp_path: Path) -> None:
    base = tmp_path / "data" / "COVID-CT" / "Images-processed"
    _zip(tmp_path / "CT_NonCOVID.zip", "CT_NonCOVID", 5, 0)
    with zipfile.ZipFile(tmp_path / "CT_NonCOVID.zip") as archive:
        archive.extractall(base / "CT_NonCOVID")  # unzipping nests CT_NonCOVID/CT_NonCOVID/
    (base / "CT_NonCOVID" / "CT_NonCOVID" / "list.csv").write_text("x")
    ctx = _ctx(tmp_path, data_dir=tmp_path / "data")
    ds = covid_ct.CovidCT({"strict": False, "test_fraction": 0.4}, ctx)
    assert sum(ds.split_sizes().values()) == 5 and ds.split_sizes()["test"] == 2
    assert "list.csv: not an image file" in ds.problems_summary
