"""Hostile and broken DICOM files: each is refused with one message, before it is decoded.

Every file is generated here with pydicom (from its real ``CT_small.dcm``), small enough to be
safe and fast, yet built like the real attacks: what the old reader (pydicom's ``dcmread`` and
``pixel_array`` behind ``medganbench_plugins.datasets.dicom_series.read_ct_slice``) did with
each is said in the test. Memory is measured with ``tracemalloc``, which sees numpy's and
Python's allocations (not those inside Pillow's C decoders, hence the tests that check a
refusal *before* decoding by other means).
"""

from __future__ import annotations

import io
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom import uid
from pydicom.data import get_testdata_file

from medganbench.data import dicom_files
from medganbench.data.dicom import DicomFileError, read_header, read_pixels
from medganbench.data.dicom_deflate import InflatedTooLarge, InflatingReader
from tests.dicom_builders import (
    ct_dataset,
    ct_file,
    encapsulated_dataset,
    replace_once,
    write,
)

MIB = 2**20


@pytest.fixture
def traced() -> Iterator[Callable[[], int]]:
    """Traces allocations from here on; the fixture's value reads the peak (bytes) so far."""
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _refusal(path: Path, reader: Callable[[Path], object] | None = None) -> str:
    """The message the reader (``read_pixels`` with rescale by default) refuses ``path`` with."""
    with pytest.raises(DicomFileError) as caught:
        (reader or (lambda p: read_pixels(p, rescale=True)))(path)
    return caught.value.message


def _image(side: int, fmt: str) -> bytes:
    """A grey square compressed by Pillow: ``JPEG``, ``J2K`` (a bare JPEG 2000 codestream, as
    DICOM asks) or ``JP2`` (the codestream in a JP2 file, as some writers store it)."""
    buffer = io.BytesIO()
    image = Image.new("L", (side, side), 7)
    if fmt == "JPEG":
        image.save(buffer, "JPEG")
    else:
        image.save(buffer, "JPEG2000", no_jp2=fmt == "J2K")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------
# Deflated Explicit VR Little Endian
# ------------------------------------------------------------------------------------------


def _deflated(tmp_path: Path, frames: int, **extra: bytes) -> Path:
    """A 64 x 64 image declaring one frame (no NumberOfFrames) whose deflated pixel data hold
    ``frames`` frames of zeros; ``extra``: more elements (tag hex -> OB value)."""
    ds = ct_dataset(np.zeros((64, 64), np.int16))
    ds.PixelData = bytes(frames * 64 * 64 * 2)
    ds.add_new(0x00090010, "LO", "HOSTILE")  # private creator of any (0009,10xx) below
    for tag, value in extra.items():
        ds.add_new(int(tag, 16), "OB", value)
    ds.file_meta.TransferSyntaxUID = uid.DeflatedExplicitVRLittleEndian
    return write(ds, tmp_path / "deflated.dcm")


def test_deflated_file_with_undeclared_frames_is_refused_in_bounded_memory(
    tmp_path: Path, traced: Callable[[], int]
) -> None:
    # 2000 frames: 16 MiB inflated from a ~20 KB file. The old reader inflated it all, then
    # decoded and returned 2000 frames (148 MB traced); a 816 KB file inflated past 7 GB.
    path = _deflated(tmp_path, 2000)
    assert path.stat().st_size < 64 * 2**10
    tracemalloc.reset_peak()
    assert "more frames than its header declares" in _refusal(path)
    assert "more frames than its header declares" in _refusal(path, read_header)
    assert traced() < MIB


def test_deflated_data_going_on_after_the_pixel_data_are_refused(
    tmp_path: Path, traced: Callable[[], int]
) -> None:
    # One honest frame, then 16 MiB of trailing padding (FFFC,FFFC): the old reader inflated
    # and kept all of it. Now at most TRAILER_SLACK bytes past the pixel data are inflated.
    path = _deflated(tmp_path, 1, FFFCFFFC=bytes(16 * MIB))
    tracemalloc.reset_peak()
    assert read_header(path).frames == 1  # the header alone cannot tell
    assert "go on past the pixel data" in _refusal(path)
    assert traced() < MIB


def test_deflated_header_inflating_past_its_cap_is_refused(
    tmp_path: Path, traced: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private element before the pixel data: the header itself is the bomb.
    monkeypatch.setattr(dicom_files, "HEADER_CAP", MIB)
    path = _deflated(tmp_path, 1, **{"00091010": bytes(8 * MIB)})
    tracemalloc.reset_peak()
    assert "deflated header inflates to more than" in _refusal(path, read_header)
    assert traced() < 3 * MIB


def test_corrupt_deflate_stream_is_one_message(tmp_path: Path) -> None:
    path = _deflated(tmp_path, 1)
    data = bytearray(path.read_bytes())
    start = data.index(b"1.2.840.10008.1.2.1.99") + 40  # in the deflate stream
    data[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    assert "unreadable or truncated DICOM header" in _refusal(path, read_header)


# ------------------------------------------------------------------------------------------
# Uncompressed pixel data and header sizes
# ------------------------------------------------------------------------------------------


def test_uncompressed_pixel_data_with_undeclared_frames_are_refused(tmp_path: Path) -> None:
    # The old reader decoded and returned all 20 frames (pydicom only warns).
    path = ct_file(tmp_path / "x.dcm", np.zeros((64, 64), np.int16))
    ds = pydicom.dcmread(path)
    ds.PixelData = bytes(20 * 64 * 64 * 2)
    write(ds, path)
    assert "more frames than its header declares" in _refusal(path, read_header)


def test_uncompressed_pixel_data_shorter_than_declared_are_refused_from_the_header(
    tmp_path: Path,
) -> None:
    path = ct_file(tmp_path / "x.dcm", np.zeros((64, 64), np.int16))
    path.write_bytes(path.read_bytes()[:-1000])  # the element's length is now a lie
    assert "truncated or cannot be decoded" in _refusal(path, read_header)


@pytest.mark.parametrize(("tag", "value"), [("Rows", 60000), ("NumberOfFrames", 300000)])
def test_header_sizes_over_the_limit_are_refused_before_decoding(
    tmp_path: Path, tag: str, value: int
) -> None:
    ds = ct_dataset(np.zeros((64, 64), np.int16))
    setattr(ds, tag, value)  # 60000 rows; 64 x 64 x 300000 > 16 slices of 8192 x 8192
    message = _refusal(write(ds, tmp_path / "big.dcm"), read_header)
    assert "refused" in message and "MEDGANBENCH_MAX_IMAGE_SIDE" in message
    assert str(value) not in message


@pytest.mark.parametrize(("old", "new"), [(b"31415926", b"manymany"), (b"31415926", b"-0000001")])
@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")
def test_malformed_number_of_frames_is_one_message(tmp_path: Path, old: bytes, new: bytes) -> None:
    ds = ct_dataset(np.zeros((64, 64), np.int16))
    ds.NumberOfFrames = int(old)
    path = replace_once(write(ds, tmp_path / "x.dcm"), old, new)
    assert _refusal(path, read_header) == "malformed Rows/Columns/NumberOfFrames"


def test_zero_rows_is_one_message(tmp_path: Path) -> None:
    ds = ct_dataset(np.zeros((64, 64), np.int16))
    ds.Rows = 0
    assert _refusal(write(ds, tmp_path / "x.dcm")) == "malformed Rows/Columns/NumberOfFrames"


# ------------------------------------------------------------------------------------------
# Broken files: today's refusals, kept
# ------------------------------------------------------------------------------------------


def test_a_file_without_the_dicm_preamble_is_not_dicom(tmp_path: Path) -> None:
    (tmp_path / "notes.dcm").write_text("this is a text file\n" * 20)
    assert _refusal(tmp_path / "notes.dcm", read_header) == "not a DICOM file (no DICM preamble)"


def test_a_truncated_header_is_refused(tmp_path: Path) -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[:900])
    assert "truncated header" in _refusal(tmp_path / "cut.dcm", read_header)


def test_an_object_without_pixel_data_is_refused() -> None:
    path = Path(get_testdata_file("rtplan.dcm"))
    assert _refusal(path, read_header).startswith("no pixel data")


def test_colour_is_refused(tmp_path: Path) -> None:
    ds = ct_dataset(np.zeros((8, 8), np.int16))
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = bytes(8 * 8 * 3)
    path = write(ds, tmp_path / "rgb.dcm")
    assert _refusal(path, read_header) == "colour DICOM images are not supported"


def test_truncated_pixel_data_are_refused(tmp_path: Path) -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[:-4000])
    assert _refusal(tmp_path / "cut.dcm") == "pixel data are truncated or cannot be decoded"


def test_malformed_encapsulation_is_refused(tmp_path: Path) -> None:
    ds = encapsulated_dataset([_image(64, "JPEG")], uid.JPEGBaseline8Bit, 64, 64)
    path = write(ds, tmp_path / "x.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\xfe\xff\xdd\xe0")])  # cut before its delimiter
    assert _refusal(path) == "pixel data are truncated or cannot be decoded"


def test_a_file_that_cannot_be_opened_is_one_message(tmp_path: Path) -> None:
    (tmp_path / "folder.dcm").mkdir()
    assert _refusal(tmp_path / "folder.dcm", read_header).startswith("cannot be read")


def test_compressed_data_far_larger_than_the_pixels_are_not_read_whole(tmp_path: Path) -> None:
    # 2 MiB of fragment for a 64 x 64 8-bit image (4 KiB uncompressed).
    frame = _image(64, "JPEG") + bytes(2 * MIB)
    ds = encapsulated_dataset([frame], uid.JPEGBaseline8Bit, 64, 64)
    message = _refusal(write(ds, tmp_path / "x.dcm"))
    assert message == "its compressed pixel data are larger than its pixels"


def test_compression_without_an_installed_decoder_is_refused_from_the_header() -> None:
    decoder = pydicom.pixels.decoders.base.get_decoder(uid.JPEGLSLossless)
    if decoder.is_available:
        pytest.skip("a JPEG-LS decoder is installed here")
    path = Path(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    assert "no installed decoder" in _refusal(path, read_header)


# ------------------------------------------------------------------------------------------
# Compressed frames
# ------------------------------------------------------------------------------------------


def _rle_frame(segment: bytes) -> bytes:
    header = (1).to_bytes(4, "little") + (64).to_bytes(4, "little") + bytes(56)
    return header + segment


def test_rle_segment_decoding_past_its_plane_is_refused_without_decoding(
    tmp_path: Path, traced: Callable[[], int]
) -> None:
    # Replicate runs (2 bytes -> 128 pixels) no longer than a plain segment could be: the old
    # reader decoded 16.9 MB for a 512 x 512 8-bit plane (256 KB) and returned the image.
    plane = 512 * 512
    segment = bytes([0x81, 0]) * ((plane + plane // 128) // 2)
    ds = encapsulated_dataset([_rle_frame(segment)], uid.RLELossless, 512, 512)
    path = write(ds, tmp_path / "rle.dcm")
    tracemalloc.reset_peak()
    assert "RLE segment decodes to more pixels" in _refusal(path)
    assert traced() < 3 * MIB  # the 270 KB file, read and split into its frames


def test_rle_segment_longer_than_its_pixels_could_need_is_refused(tmp_path: Path) -> None:
    # No-op headers (0x80) decode to nothing but make any decoder walk them one by one.
    segment = bytes([0x80]) * (10 * 64 * 64)
    ds = encapsulated_dataset([_rle_frame(segment)], uid.RLELossless, 64, 64)
    assert "RLE segment is longer" in _refusal(write(ds, tmp_path / "rle.dcm"))


def test_rle_with_more_segments_than_a_sample_has_bytes_is_refused(tmp_path: Path) -> None:
    frame = (2).to_bytes(4, "little") + (64).to_bytes(4, "little") + (70).to_bytes(4, "little")
    frame += bytes(52) + bytes([0xC1, 0]) * 3
    ds = encapsulated_dataset([frame], uid.RLELossless, 8, 8)
    assert _refusal(write(ds, tmp_path / "rle.dcm")) == (
        "pixel data are truncated or cannot be decoded"
    )


@pytest.mark.parametrize(
    ("fmt", "syntax"),
    [("JPEG", uid.JPEGBaseline8Bit), ("J2K", uid.JPEG2000Lossless), ("JP2", uid.JPEG2000)],
)
def test_codestream_larger_than_the_header_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, syntax: str
) -> None:
    # A 64 x 64 header over a 4000 x 4000 codestream: the old reader had Pillow decode all
    # 16 M pixels (pydicom compares sizes only afterwards).
    ds = encapsulated_dataset([_image(4000, fmt)], syntax, 64, 64)
    path = write(ds, tmp_path / "big.dcm")

    class Decoder:
        is_available = True

        def as_array(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the frame was handed to a decoder")

    monkeypatch.setattr(dicom_files, "get_decoder", lambda syntax: Decoder())
    assert "declares another size" in _refusal(path)


@pytest.mark.parametrize(
    ("fmt", "syntax"),
    [("JPEG", uid.JPEGBaseline8Bit), ("J2K", uid.JPEG2000Lossless), ("JP2", uid.JPEG2000)],
)
def test_codestream_of_the_declared_size_is_decoded(tmp_path: Path, fmt: str, syntax: str) -> None:
    ds = encapsulated_dataset([_image(64, fmt)], syntax, 64, 64)
    pixels, _ = read_pixels(write(ds, tmp_path / "ok.dcm"), rescale=False)
    assert pixels.shape == (1, 64, 64) and np.all(np.abs(pixels - 7) <= 1)


@pytest.mark.parametrize("has_bot", [True, False])
def test_more_compressed_frames_than_declared_are_refused(tmp_path: Path, has_bot: bool) -> None:
    # With an offset table the old reader decoded and returned all 3 frames; without one it
    # joined them as one frame and decoded the first.
    frames = [_image(64, "JPEG")] * 3
    ds = encapsulated_dataset(frames, uid.JPEGBaseline8Bit, 64, 64, has_bot=has_bot)
    path = write(ds, tmp_path / "three.dcm")
    assert "more frames than its header declares" in _refusal(path)


def test_more_rle_fragments_than_frames_are_refused(tmp_path: Path) -> None:
    frame = _rle_frame(bytes([0xC1, 0]))  # 64 pixels of 0: an 8 x 8 plane
    ds = encapsulated_dataset([frame, frame], uid.RLELossless, 8, 8, has_bot=False)
    assert "more frames" in _refusal(write(ds, tmp_path / "rle.dcm"))


def test_messages_never_hold_the_declared_numbers(tmp_path: Path) -> None:
    path = _deflated(tmp_path, 37)
    message = _refusal(path)
    assert not any(ch.isdigit() for ch in message), message


def test_deflate_bound_is_zlib_max_length_not_the_ratio() -> None:
    # The reader's step: what one decompress call may produce, whatever the input.
    bomb = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = bomb.compress(bytes(8 * MIB)) + bomb.flush()
    reader = InflatingReader(io.BytesIO(data), MIB)
    assert len(reader.read(1000)) == 1000
    with pytest.raises(InflatedTooLarge):
        reader.read(2 * MIB)
    assert reader.tell() == 1000
