"""One DICOM file read safely: its header without the pixels, then its pixels after checks.

A DICOM file is the user's, but it may come from anywhere (a PACS export, a download, a shared
folder), so nothing it declares is trusted until checked against what it holds. Every refusal
is one :class:`DicomFileError`, raised *before* pixels are decoded where the header alone tells:

* no ``DICM`` preamble; a header that cannot be parsed; no pixel data; colour
  (SamplesPerPixel > 1); malformed sizes; sizes over the pixel limit
  (:func:`~medganbench.data.images.oversize`, ``MEDGANBENCH_MAX_IMAGE_SIDE``);
* uncompressed pixel data holding a frame more than Rows × Columns × Frames × BitsAllocated / 8
  — pydicom would decode every undeclared frame — or less than that;
* the Deflated Explicit VR Little Endian syntax is inflated here, never by pydicom (whose
  ``dcmread`` inflates the whole file at once, without bound): in steps, the header up to
  :data:`HEADER_CAP` bytes, then exactly the declared pixel bytes, then at most
  :data:`TRAILER_SLACK` bytes more — a stream that goes on is refused;
* compressed (encapsulated) pixel data: a transfer syntax no installed pydicom decoder reads is
  refused from the header; the data are read up to :data:`COMPRESSED_RATIO` times their
  uncompressed size, no further; their frames are checked by
  :mod:`~medganbench.data.dicom_codestreams`, and only the declared frames are decoded.

Messages never hold a header value (no identifier, UID, date or geometry), only the problem in
words; callers name the file by its path, which is the user's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
import pydicom.uid as dicom_uid
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.pixels.decoders.base import get_decoder
from pydicom.tag import Tag
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from medganbench.data.dicom_codestreams import (
    CODESTREAM_KINDS,
    encapsulated_value,
    frames_problem,
)
from medganbench.data.dicom_deflate import InflatedTooLarge, InflatingReader
from medganbench.data.dicom_header import (
    DicomFileError,
    DicomHeader,
    checked_header,
    rescale_of,
)

#: The most bytes a deflated file's header (everything before its pixel data) may inflate to.
#: Real headers are kilobytes; a few private vendor blocks make them hundreds.
HEADER_CAP = 16 * 2**20
#: What a deflated file may hold after its pixel data (trailing padding, a signature).
TRAILER_SLACK = 64 * 2**10
#: Compressed pixel data may be this many times their uncompressed size (plus 1 MiB) at most.
COMPRESSED_RATIO = 4

_PIXEL_DATA = 0x7FE00010
#: Tags at which pydicom's own reader stops "before the pixels" (float pixel data included).
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, _PIXEL_DATA})
#: The only elements parsed: the others are skipped (seeked over), never read into memory.
_WANTED: list[int] = [
    Tag(k)
    for k in [
        "Modality",
        "PatientID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "InstanceNumber",
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "SliceThickness",
        "SpacingBetweenSlices",
        "PixelSpacing",
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "PlanarConfiguration",
        "NumberOfFrames",
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "RescaleIntercept",
        "RescaleSlope",
        "ExtendedOffsetTable",
        "ExtendedOffsetTableLengths",
    ]
]
_NATIVE = frozenset(
    {
        dicom_uid.ImplicitVRLittleEndian,
        dicom_uid.ExplicitVRLittleEndian,
        dicom_uid.ExplicitVRBigEndian,
        dicom_uid.DeflatedExplicitVRLittleEndian,
    }
)
UNDECODABLE = "pixel data are truncated or cannot be decoded"
MORE_FRAMES = "its pixel data hold more frames than its header declares"


def read_header(path: Path) -> DicomHeader:
    """The header of one file, without reading or decoding its pixels.

    Refuses everything :func:`read_pixels` would refuse on the header alone (see the module
    doc), so a file that passes here fails later only for its pixel data themselves.

    Raises:
        DicomFileError: the file is unusable; the message says why.
    """
    with _opened(path) as fp:
        return _Parsed.open(fp).header


def read_pixels(path: Path, *, rescale: bool) -> tuple[np.ndarray, DicomHeader]:
    """The pixels of one file as float32 (frames, rows, columns), and its header.

    Args:
        rescale: ``True``: ``stored * RescaleSlope + RescaleIntercept`` computed in float64,
            then rounded to float32 (Hounsfield units for CT; slope 1 and intercept 0 where the
            tags are absent). ``False``: the stored values (MR, arbitrary units).

    Raises:
        DicomFileError: the file is unusable; the message says why.
    """
    with _opened(path) as fp:
        parsed = _Parsed.open(fp)
        h = parsed.header
        out = np.empty((h.frames, h.rows, h.columns), np.float32)
        parsed.decode_into(out, rescale=rescale)
    return out, h


def read_pixels_into(path: Path, out: np.ndarray, *, rescale: bool) -> DicomHeader:
    """:func:`read_pixels` into ``out``, a float32 (frames, rows, columns) slab of a volume.

    Lets a series be assembled without a second copy of each file's pixels.

    Raises:
        DicomFileError: as :func:`read_pixels`, or the file's size is not ``out``'s (it
            changed since its header was read).
    """
    with _opened(path) as fp:
        parsed = _Parsed.open(fp)
        parsed.decode_into(out, rescale=rescale)
    return parsed.header


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """The file open for reading; a file that cannot be opened is one message too."""
    try:
        fp = path.open("rb")
    except OSError as exc:
        raise DicomFileError(f"cannot be read ({exc.strerror or 'I/O error'})") from None
    with fp:
        yield fp


@dataclass
class _Parsed:
    """A file opened and its header checked, positioned to read its pixel data."""

    ds: Dataset
    syntax: dicom_uid.UID
    source: BinaryIO
    value_start: int
    value_length: int
    expected: int  # bytes of the uncompressed pixel data the header declares
    header: DicomHeader
    deflated: InflatingReader | None

    @classmethod
    def open(cls, fp: BinaryIO) -> _Parsed:
        if fp.read(132)[128:] != b"DICM":
            raise DicomFileError("not a DICOM file (no DICM preamble)")
        try:
            meta = read_dataset(fp, False, True, stop_when=lambda tag, vr, n: tag >> 16 != 2)
            syntax = dicom_uid.UID(str(meta.get("TransferSyntaxUID", "") or ""))
        except Exception:  # noqa: BLE001 - pydicom raises struct, value and key errors alike
            raise DicomFileError("unreadable or truncated DICOM header") from None
        deflated = None
        source = fp
        if syntax == dicom_uid.DeflatedExplicitVRLittleEndian:
            deflated = InflatingReader(fp, HEADER_CAP)
            source = cast(BinaryIO, deflated)
        found: list[tuple[int, str | None, int]] = []

        def at_pixels(tag: int, vr: str | None, length: int) -> bool:
            if tag in _PIXEL_TAGS:
                found.append((int(tag), vr, length))
                return True
            return False

        # Without a transfer syntax pydicom's parser detects explicit VR itself.
        implicit = syntax in ("", dicom_uid.ImplicitVRLittleEndian)
        try:
            ds = read_dataset(
                source,
                implicit,
                syntax != dicom_uid.ExplicitVRBigEndian,
                stop_when=at_pixels,
                specific_tags=list(_WANTED),
            )
        except InflatedTooLarge:
            raise DicomFileError(
                f"its deflated header inflates to more than {HEADER_CAP // 2**20} MiB"
            ) from None
        except Exception:  # noqa: BLE001 - as above, and zlib.error for a corrupt stream
            raise DicomFileError("unreadable or truncated DICOM header") from None
        if not found:
            raise DicomFileError("no pixel data (not an image object, or a truncated header)")
        tag, vr, length = found[0]
        if tag != _PIXEL_DATA:
            raise DicomFileError("float pixel data are not supported")
        header, expected = checked_header(ds)
        start = source.tell() + (12 if vr in EXPLICIT_VR_LENGTH_32 else 8)
        parsed = cls(ds, syntax, source, start, length, expected, header, deflated)
        parsed.check_length()
        return parsed

    def check_length(self) -> None:
        """Refuse pixel data whose length the header contradicts (uncompressed syntaxes), or
        that no installed decoder reads (compressed ones)."""
        if self.syntax not in _NATIVE and self.syntax != "":
            if self.syntax not in CODESTREAM_KINDS or not _decodable(self.syntax):
                raise DicomFileError(
                    "its pixel data are compressed in a format no installed decoder reads"
                )
            if self.value_length != 0xFFFFFFFF:
                raise DicomFileError(UNDECODABLE)  # compressed data are always encapsulated
            return
        if self.value_length == 0xFFFFFFFF or self.value_length < self.expected:
            raise DicomFileError(UNDECODABLE)
        # Less than a frame of excess is padding, which pydicom strips (one byte makes odd-length
        # data even, PS3.5 8.1.1; some writers pad more); a whole frame more is an undeclared
        # frame, which pydicom would decode and return.
        if self.value_length >= self.expected + max(1, self.expected // self.header.frames):
            raise DicomFileError(MORE_FRAMES)
        if (
            self.deflated is None
            and self.value_start + self.value_length > os.fstat(self.source.fileno()).st_size
        ):
            raise DicomFileError(UNDECODABLE)

    def decode_into(self, out: np.ndarray, *, rescale: bool) -> None:
        """Read, check and decode the pixel data into ``out`` (float32, frames × rows × cols)."""
        h = self.header
        if out.shape != (h.frames, h.rows, h.columns):
            raise DicomFileError("pixel data have an unexpected shape")
        slope, intercept = rescale_of(self.ds) if rescale else (1.0, 0.0)
        self.source.seek(self.value_start)
        if self.value_length != 0xFFFFFFFF:
            if self.deflated is not None:  # from the header's cap to the pixel data's end
                self.deflated.cap = self.value_start + self.value_length
            value = self.source.read(self.value_length)
            if len(value) < self.expected:
                raise DicomFileError(UNDECODABLE)
            if self.deflated is not None and not self.deflated.ends_within(TRAILER_SLACK):
                raise DicomFileError(
                    "its deflated data go on past the pixel data its header declares"
                )
            syntax = self.syntax if self.syntax in _NATIVE else dicom_uid.ExplicitVRLittleEndian
        else:
            # Compressed frames larger than their pixels would be uncompressed (a few times, for
            # incompressible noise) are not images: read no more than that, whatever the file.
            limit = COMPRESSED_RATIO * self.expected + 2**20
            # (A read allocates what it asks for first: ask for no more than the file holds.)
            left = os.fstat(self.source.fileno()).st_size - self.value_start
            data = self.source.read(max(0, min(limit + 1, left)))
            found = encapsulated_value(data)
            if found is None and len(data) > limit:
                raise DicomFileError("its compressed pixel data are larger than its pixels")
            if found is None:
                raise DicomFileError(UNDECODABLE)
            del data
            problem = frames_problem(found, self.ds, self.syntax, h.rows, h.columns)
            if problem is not None:
                raise DicomFileError(problem)
            value, syntax = found, self.syntax
        self.ds.PixelData = value
        del value
        try:
            # Only the declared frames (pydicom's default decodes any it finds beyond them).
            options: dict[str, Any] = {"as_rgb": False, "allow_excess_frames": False}
            stored, _ = get_decoder(syntax).as_array(self.ds, **options)
        except Exception:  # noqa: BLE001 - each decoder plugin raises its own errors
            raise DicomFileError(UNDECODABLE) from None
        finally:
            del self.ds.PixelData
        if stored.size != out.size:
            raise DicomFileError("pixel data have an unexpected shape")
        stored = stored.reshape(out.shape)
        for k in range(h.frames):  # a frame at a time: float64 scratch for one frame only
            if rescale:
                # float64 for the arithmetic so the result is exact for integer stored values.
                out[k] = stored[k].astype(np.float64) * slope + intercept
            else:
                out[k] = stored[k]


def _decodable(syntax: dicom_uid.UID) -> bool:
    try:
        return bool(get_decoder(syntax).is_available)
    except NotImplementedError:
        return False
