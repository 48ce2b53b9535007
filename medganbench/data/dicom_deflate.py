"""The Deflated Explicit VR Little Endian transfer syntax inflated in bounded steps.

pydicom's ``dcmread`` inflates a deflated file's whole dataset with one ``zlib.decompress``:
a file of a few hundred kilobytes can inflate to gigabytes before a single tag is looked at.
:class:`InflatingReader` gives pydicom's parser a file-like view of the stream instead, which
inflates only as far as the parser reads, with ``max_length`` on every call, and never past a
cap the caller sets (and moves: the header's cap first, then the pixel data's end).
"""

from __future__ import annotations

import os
import zlib
from typing import IO

#: Bytes inflated (and read from the file) per step: small, so the overhead of a read is too.
STEP = 64 * 2**10


class InflatedTooLarge(Exception):
    """A read asked for more than the reader's cap while the stream had more."""


class InflatingReader:
    """A seekable, read-only view of a raw deflate stream, inflated lazily, never past ``cap``.

    pydicom's parser reads, tells and seeks (a few bytes back, or forward over the elements
    it skips); everything inflated so far is kept so that backward seeks work, which is why
    the cap is also the bound on this reader's memory.

    Args:
        raw: the file, positioned at the first byte of the deflate stream.
        cap: the most bytes to inflate; a read beyond it raises :class:`InflatedTooLarge`
            unless the stream ends first.
    """

    def __init__(self, raw: IO[bytes], cap: int) -> None:
        self._raw = raw
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._data = bytearray()
        self._pos = 0
        self.cap = cap

    def _fill(self, end: int) -> None:
        """Inflate until ``end`` bytes are held or the stream ends; raise past the cap.

        Raises:
            InflatedTooLarge: ``end`` is past the cap and the stream goes on there.
            zlib.error: the stream is corrupt.
        """
        while len(self._data) < end and not self._inflater.eof:
            room = min(end, self.cap) - len(self._data)
            if room <= 0:
                raise InflatedTooLarge
            src = self._inflater.unconsumed_tail or self._raw.read(STEP)
            if not src:
                return  # a truncated stream: reads come back short, as at the end of a file
            # max_length bounds what one call may produce, whatever the data's ratio.
            self._data += self._inflater.decompress(src, min(room, STEP))

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes from the position (to the cap if ``size`` is negative)."""
        end = self.cap if size < 0 else self._pos + size
        self._fill(end)
        with memoryview(self._data) as view:  # one copy, not a slice and then a copy
            out = bytes(view[self._pos : end])
        self._pos += len(out)
        return out

    def tell(self) -> int:
        """The position in the inflated stream."""
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position (from the start or the current position; nothing is inflated)."""
        if whence == os.SEEK_END:
            raise OSError("cannot seek from the end of a deflated stream")
        self._pos = max(0, offset if whence == os.SEEK_SET else self._pos + offset)
        return self._pos

    def ends_within(self, extra: int) -> bool:
        """Whether the stream ends at most ``extra`` bytes after the position (inflating at
        most ``extra + 1`` bytes to find out)."""
        self.cap = max(self.cap, self._pos + extra + 1)
        self._fill(self._pos + extra + 1)
        return len(self._data) <= self._pos + extra
