"""Compressed DICOM pixel data checked before a decoder sees them.

A decoder allocates what the *codestream* declares, not what the DICOM header declares: Pillow
decodes a 64 × 64 file's JPEG or JPEG 2000 frame at whatever size its own SOF/SIZ marker gives
(and pydicom only then compares), pydicom's RLE decoder grows each segment for as long as its
runs go on (up to 64 times the segment's length), and pydicom decodes every frame it finds,
declared or not. So, for the encapsulated transfer syntaxes this reader accepts
(:data:`CODESTREAM_KINDS`), before any decoding:

* frames are split exactly as pydicom's decoder splits them (``generate_frames``, with the
  Basic or Extended Offset Table); more frames than NumberOfFrames are refused, and so are more
  fragments that begin a codestream (or, for RLE, more fragments) than NumberOfFrames;
* each JPEG, JPEG-LS and JPEG 2000 (HTJ2K included) frame's own header must declare
  Rows × Columns and one component;
* each RLE frame must have one segment per byte of a sample, no longer than its pixels could
  need, and each segment may decode to at most Rows × Columns bytes (plus :data:`RLE_SLACK`),
  counted without decoding.

Functions return the problem in words (``None`` if there is none), never a header value.
"""

from __future__ import annotations

from collections.abc import Iterator

import pydicom.uid as dicom_uid
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames

#: Codestream family of each compressed transfer syntax whose frames are checked here; any
#: other compressed syntax is refused (pydicom 3.0 decodes no other).
CODESTREAM_KINDS: dict[str, str] = {
    **dict.fromkeys(
        (
            dicom_uid.JPEGBaseline8Bit,
            dicom_uid.JPEGExtended12Bit,
            dicom_uid.JPEGLossless,
            dicom_uid.JPEGLosslessSV1,
            dicom_uid.JPEGLSLossless,
            dicom_uid.JPEGLSNearLossless,
        ),
        "jpeg",
    ),
    **dict.fromkeys(
        (
            dicom_uid.JPEG2000Lossless,
            dicom_uid.JPEG2000,
            dicom_uid.HTJ2KLossless,
            dicom_uid.HTJ2KLosslessRPCL,
            dicom_uid.HTJ2K,
        ),
        "j2k",
    ),
    dicom_uid.RLELossless: "rle",
}
#: Bytes an RLE segment may decode to beyond Rows × Columns (encoders pad with a last run).
RLE_SLACK = 256
_ITEM, _SEQUENCE_END = b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
#: JPEG start-of-frame markers (SOF0..SOF15 less DHT, JPG and DAC) and JPEG-LS's SOF55.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
_TRUNCATED = "pixel data are truncated or cannot be decoded"


def encapsulated_value(data: bytes) -> bytes | None:
    """The encapsulated pixel data at the start of ``data``: its items up to (not including)
    the sequence delimiter; ``None`` if they are malformed or cut short."""
    pos = 0
    while data[pos : pos + 4] == _ITEM:
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if length == 0xFFFFFFFF or pos + 8 + length > len(data):
            return None
        pos += 8 + length
    if pos == 0 or data[pos : pos + 4] != _SEQUENCE_END:
        return None
    return data[:pos]


def frames_problem(value: bytes, ds: Dataset, syntax: str, rows: int, columns: int) -> str | None:
    """Why the encapsulated ``value`` cannot be decoded safely as ``ds`` declares, or ``None``.

    Args:
        value: the items of the encapsulated pixel data (:func:`encapsulated_value`).
        ds: the header (NumberOfFrames, BitsAllocated, the Extended Offset Table).
        syntax: its transfer syntax, one of :data:`CODESTREAM_KINDS`.
        rows, columns: the size the header declares.
    """
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    bits = int(ds.get("BitsAllocated", 8) or 8)
    kind = CODESTREAM_KINDS[syntax]
    if _frame_starts(value, kind) > frames:
        return "its pixel data hold more frames than its header declares"
    count = 0
    try:
        for frame in _frames(value, ds, frames):
            if count == frames:
                return "its pixel data hold more frames than its header declares"
            problem = _frame_problem(frame, kind, rows, columns, bits)
            if problem is not None:
                return problem
            count += 1
    except Exception:  # noqa: BLE001 - pydicom's framing raises value and struct errors
        return _TRUNCATED
    return _TRUNCATED if count < frames else None


def _frame_starts(value: bytes, kind: str) -> int:
    """How many fragments (after the Basic Offset Table) begin a frame of their own.

    Each RLE frame is one fragment (PS3.5 A.4.2); a JPEG fragment that starts with an SOI
    marker, or a JPEG 2000 one with SOC and SIZ (or the JP2 signature), begins a codestream.
    Without an offset table pydicom joins all fragments of a one-frame file, so frames hidden
    after the first would otherwise go unseen.
    """
    starts = {"rle": (b"",), "jpeg": (b"\xff\xd8",), "j2k": (b"\xff\x4f\xff\x51", _JP2_SIGNATURE)}
    pos = 8 + int.from_bytes(value[4:8], "little")  # past the Basic Offset Table item
    count = 0
    while pos + 8 <= len(value):
        length = int.from_bytes(value[pos + 4 : pos + 8], "little")
        count += value.startswith(starts[kind], pos + 8)
        pos += 8 + length
    return count


def _frames(value: bytes, ds: Dataset, frames: int) -> Iterator[bytes]:
    """The frames pydicom's decoder will decode, split the way it splits them."""
    table, lengths = ds.get("ExtendedOffsetTable"), ds.get("ExtendedOffsetTableLengths")
    extended = (table, lengths) if table is not None and lengths is not None else None
    return generate_frames(value, number_of_frames=frames, extended_offsets=extended)


def _frame_problem(frame: bytes, kind: str, rows: int, columns: int, bits: int) -> str | None:
    if kind == "rle":
        return _rle_problem(frame, rows * columns, bits)
    size = _jpeg_size(frame) if kind == "jpeg" else _j2k_size(frame)
    if size is None:
        return _TRUNCATED
    if size != (rows, columns, 1):
        return "a compressed frame declares another size or more samples than the header"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    """(rows, columns, components) from a JPEG or JPEG-LS frame header; ``None`` if absent."""
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # scan data or end of image before any frame header
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF:
            segment = data[pos + 4 : pos + 2 + length]
            if len(segment) < 6:
                return None
            height = int.from_bytes(segment[1:3], "big")
            width = int.from_bytes(segment[3:5], "big")
            return height, width, segment[5]
        pos += 2 + length
    return None


def _j2k_size(data: bytes) -> tuple[int, int, int] | None:
    """(rows, columns, components) from a JPEG 2000 codestream's SIZ marker (inside a JP2
    file's ``jp2c`` box if wrapped); ``None`` if absent."""
    if data[:12] == _JP2_SIGNATURE:
        data = _jp2_codestream(data)
    if data[:4] != b"\xff\x4f\xff\x51" or len(data) < 42:
        return None

    def u32(at: int) -> int:
        return int.from_bytes(data[at : at + 4], "big")

    width, height = u32(8) - u32(16), u32(12) - u32(20)  # Xsiz - XOsiz, Ysiz - YOsiz
    return height, width, int.from_bytes(data[40:42], "big")


def _jp2_codestream(data: bytes) -> bytes:
    """The contents of a JP2 file's first ``jp2c`` box (``b""`` if there is none)."""
    pos = 0
    while pos + 8 <= len(data):
        length, box = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        start = pos + 8
        if length == 1:  # a 64-bit length follows
            length, start = int.from_bytes(data[pos + 8 : pos + 16], "big"), pos + 16
        end = len(data) if length == 0 else pos + length
        if box == b"jp2c":
            return data[start:end]
        if end <= pos:
            return b""
        pos = end
    return b""


def _rle_problem(frame: bytes, plane: int, bits: int) -> str | None:
    """Why an RLE frame is malformed or would decode to more than ``plane`` bytes a segment.

    Walks each segment's run headers (what pydicom's decoder does, without the output): the
    decoded length is counted, and the walk stops as soon as it passes the bound.
    """
    count = int.from_bytes(frame[:4], "little")
    if bits % 8 or count != bits // 8 or len(frame) < 64:
        return _TRUNCATED
    offsets = [int.from_bytes(frame[4 + 4 * i : 8 + 4 * i], "little") for i in range(count)]
    bounds = [*offsets, len(frame)]
    if offsets[0] != 64 or any(a > b for a, b in zip(bounds, bounds[1:], strict=False)):
        return _TRUNCATED
    limit = plane + RLE_SLACK
    for start, end in zip(bounds, bounds[1:], strict=False):
        # Literal runs cost one header byte per 128 pixels at worst: a longer segment is
        # padded with no-op headers, which would only make this walk (and pydicom's) slow.
        if end - start > limit + plane // 128:
            return "an RLE segment is longer than its pixels could need"
        decoded, pos = 0, start
        while pos < end and decoded <= limit:
            header = frame[pos]
            if header > 128:  # the next byte, repeated 257 - header times
                decoded, pos = decoded + 257 - header, pos + 2
            elif header < 128:  # the next header + 1 bytes, literally
                decoded, pos = decoded + header + 1, pos + header + 2
            else:  # 128: no operation
                pos += 1
        if decoded > limit:
            return "an RLE segment decodes to more pixels than its header declares"
    return None
