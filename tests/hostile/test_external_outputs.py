"""An outputs folder for ``medganbench score`` is someone else's: only plain files named after a
sample are read, sizes are checked before decoding, no pickle, and every problem is listed in
one message."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from medganbench.errors import DataError
from medganbench.run.outputs import ImageShape, encode, read_outputs
from tests.hostile.conftest import TINY_DATA, assert_one_message, cli

NAMES = ["00000", "00001", "00002"]
SHAPE = ImageShape(channels=1, size=8, window=(-1000.0, 1000.0))


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "outputs"
    folder.mkdir()
    for i, name in enumerate(NAMES):
        np.save(folder / f"{name}.npy", np.full((1, 8, 8), float(i), np.float32))
    return folder


def test_a_complete_folder_is_read_in_sample_order(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / ".DS_Store").write_bytes(b"x")  # dot files and the export's manifest are ignored
    (folder / "manifest.json").write_text("{}")
    outputs = read_outputs(folder, NAMES, SHAPE)
    assert outputs.images.shape == (3, 1, 8, 8)
    assert outputs.images[:, 0, 0, 0].tolist() == [0.0, 1.0, 2.0]


def test_extra_files_and_folders_are_refused_naming_them(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "notes.txt").write_text("hi")
    (folder / "00099.npy").write_bytes((folder / "00000.npy").read_bytes())
    (folder / "sub").mkdir()
    with pytest.raises(DataError, match="3 extra") as info:
        read_outputs(folder, NAMES, SHAPE)
    assert all(
        n in info.value.message for n in ("'notes.txt'", "'00099.npy'", "'sub' (not a file)")
    )


def test_a_wrong_size_image_is_refused_with_its_shape(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    np.save(folder / "00001.npy", np.zeros((1, 4, 4), np.float32))
    with pytest.raises(
        DataError, match=r"1 of the wrong size: '00001.npy' is \(1, 4, 4\), expected \(1, 8, 8\)"
    ):
        read_outputs(folder, NAMES, SHAPE)


def test_every_problem_is_in_one_message(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "00000.npy").unlink()
    np.save(folder / "00001.npy", np.zeros((2, 8, 8), np.float32))
    (folder / "extra.png").write_bytes(b"")
    with pytest.raises(DataError) as info:
        read_outputs(folder, NAMES, SHAPE)
    message = info.value.message
    assert "1 missing: 00000.npy" in message and "'extra.png'" in message
    assert "'00001.npy' is (2, 8, 8)" in message


def test_a_link_is_refused_and_not_followed(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    secret = tmp_path / "elsewhere.npy"
    np.save(secret, np.zeros((1, 8, 8), np.float32))
    (folder / "00002.npy").unlink()
    (folder / "00002.npy").symlink_to(secret)
    with pytest.raises(DataError, match="'00002.npy' \\(a link"):
        read_outputs(folder, NAMES, SHAPE)


def test_a_pickled_array_is_refused_without_loading_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    np.save(folder / "00001.npy", np.array([object()] * 64).reshape(1, 8, 8), allow_pickle=True)
    with pytest.raises(DataError, match="'00001.npy' \\(not a NumPy array file: Object arrays"):
        read_outputs(folder, NAMES, SHAPE)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    np.save(folder / "00001.npy", np.zeros((1, 512, 512), np.float64))
    with pytest.raises(DataError, match="'00001.npy' is 2097280 bytes, more than a 1×8×8 array"):
        read_outputs(folder, NAMES, SHAPE)


def test_a_png_declaring_another_size_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "00002.npy").unlink()
    Image.new("L", (9, 8)).save(folder / "00002.png")
    with pytest.raises(DataError, match="'00002.png' is 9×8 px, expected 8×8"):
        read_outputs(folder, NAMES, SHAPE)


def test_npy_and_png_of_one_sample_are_refused_as_a_duplicate(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    Image.new("L", (8, 8)).save(folder / "00002.png")
    with pytest.raises(DataError, match="'00002.npy' and '00002.png'"):
        read_outputs(folder, NAMES, SHAPE)


def test_nan_values_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    np.save(folder / "00000.npy", np.full((1, 8, 8), np.nan, np.float32))
    with pytest.raises(DataError, match="'00000.npy' \\(holds NaN"):
        read_outputs(folder, NAMES, SHAPE)


def test_png_maps_the_window_onto_16_bit_grey(tmp_path: Path) -> None:
    folder = tmp_path / "png"
    folder.mkdir()
    image = torch.linspace(-1000.0, 1000.0, 64).reshape(1, 8, 8)
    (folder / "00000.png").write_bytes(encode(image, "png", SHAPE))
    grey = np.asarray(Image.open(io.BytesIO((folder / "00000.png").read_bytes())))
    assert (grey.min(), grey.max()) == (0, 65535)  # window low → 0, high → full grey
    back = read_outputs(folder, ["00000"], SHAPE).images[0]
    assert torch.allclose(back, image, atol=2000.0 / 65535)


def _npy_header_only(shape: tuple[int, ...], descr: str = "<f8", data: int = 72) -> bytes:
    """A .npy file whose header declares ``shape`` but which holds ``data`` bytes only."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return header.getvalue() + bytes(data)


def test_a_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path: Path) -> None:
    # 200 bytes that declare 74.5 GiB: before, np.load tried to allocate them (MemoryError).
    folder = _folder(tmp_path)
    (folder / "00001.npy").write_bytes(_npy_header_only((1, 100000, 100000)))
    assert (folder / "00001.npy").stat().st_size == 200
    with pytest.raises(
        DataError, match=r"'00001.npy' is \(1, 100000, 100000\), expected \(1, 8, 8\)"
    ):
        read_outputs(folder, NAMES, SHAPE)


@pytest.mark.parametrize(
    ("descr", "data", "said"),
    [("<c16", 64 * 16, "declares dtype complex128"), ("<f4", 10, "holds 10 bytes of data")],
    ids=["complex", "truncated"],
)
def test_a_header_that_does_not_fit_the_image_is_refused(
    tmp_path: Path, descr: str, data: int, said: str
) -> None:
    folder = _folder(tmp_path)
    (folder / "00001.npy").write_bytes(_npy_header_only((1, 8, 8), descr, data))
    with pytest.raises(DataError, match=f"'00001.npy' \\({said}"):
        read_outputs(folder, NAMES, SHAPE)


@pytest.mark.slow
def test_score_refuses_a_huge_npy_header_with_one_message(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    exported = cli(
        "datasets", "export", "phantom-brain", "--direction", "b2a", "--image-size", "32",
        "--dataset-arg", TINY_DATA, "--out", "ex", cwd=work,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    (work / "ex" / "inputs" / "00000.npy").write_bytes(_npy_header_only((1, 100000, 100000)))
    scored = cli(
        "score", "--dataset", "phantom-brain", "--image-size", "32", "--dataset-arg", TINY_DATA,
        "--outputs", "ex/inputs", "--name", "my-net", "--metrics", "psnr", cwd=work,
    )  # fmt: skip
    assert_one_message(scored)
    assert "'00000.npy' is (1, 100000, 100000), expected (1, 32, 32)" in scored.stderr
    assert not (work / "leaderboards").exists()
