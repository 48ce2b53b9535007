"""Decoding and validating 2-D image files (PNG, JPEG, BMP, TIFF) for the folder datasets.

Exports of medical images as PNG/JPEG carry no physical units: their values are 8-bit display
values (0..255) after whatever window the exporter applied. :func:`load_image` therefore
delivers float32 values in [0, 255] (16-bit files are scaled down to that range), as a square
``(channels, size, size)`` tensor: the image is padded to a square with its own minimum value
(centered, so the anatomy keeps its aspect ratio) and then resized bilinearly with antialiasing.

A file that is not an image, is truncated or corrupt, or has no pixels raises
:class:`ImageFileError` with a one-line reason; callers hand that reason to
:class:`~medganbench.data.problems.InputProblems`, which decides (strict/lenient) whether it
stops the run or is skipped and counted. An image may also be a member of a zip archive
(:class:`ImageRef`); :class:`ImageReader` keeps each archive open once per pass.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from medganbench.data.files import inside_or_reported, is_hidden, relative
from medganbench.data.images import MAX_SIDE_ENV, max_image_side, oversize
from medganbench.data.problems import DataFileError, InputProblems
from medganbench.errors import DataError

#: Suffixes (lower case) read as images; anything else in an image folder is a problem.
IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
#: ITU-R BT.601 luma weights, the ones PIL's own "L" conversion uses, kept in float here so
#: the gray value is not rounded to an integer before resizing.
_LUMA = (0.299, 0.587, 0.114)
#: Modes holding 16-bit samples (scaled by 255/65535 to the common 0..255 range).
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageFileError(DataFileError):
    """One file cannot be used as an image; ``message`` says why in a few words."""


def is_image_file(path: Path | str) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_SUFFIXES` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_image(source: Path | str | bytes | BinaryIO, size: int, channels: int = 1) -> torch.Tensor:
    """Decode an image file fully and return it square, resized, as float32 in [0, 255].

    Args:
        source: a file path, the file's bytes, or an open binary file.
        size: side length of the returned image.
        channels: 1 (RGB/RGBA/palette images become luminance) or 3 (gray is replicated).

    Returns:
        float32 tensor of shape ``(channels, size, size)`` with values in [0, 255].

    Raises:
        ImageFileError: not an image, truncated or corrupt, zero-sized, or an unsupported mode.
        ValueError: ``channels`` is not 1 or 3, or ``size`` < 1.
    """
    if channels not in (1, 3):
        raise ValueError("channels must be 1 or 3")
    if size < 1:
        raise ValueError("size must be positive")
    pixels = _to_float(_decode(source), channels)
    return _square_resize(pixels, size).clamp_(0.0, 255.0)


def _decode(source: Path | str | bytes | BinaryIO) -> Image.Image:
    """Open and fully decode (``load()``), so a truncated file fails here and not later."""
    fp: Path | str | BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with Image.open(fp) as image:
            # The header's size, checked before a single pixel is decoded.
            if (too_big := oversize(image.width, image.height)) is not None:
                raise ImageFileError(f"refused: {too_big}")
            image.load()
            decoded = image.copy()
    except Image.DecompressionBombError:  # PIL's own guard, for sizes far over ours
        raise ImageFileError(
            f"refused: its header declares more pixels than the limit of {max_image_side()} a "
            f"side ({MAX_SIDE_ENV})"
        ) from None
    # UnidentifiedImageError: not an image; OSError: truncated/corrupt data; SyntaxError and
    # ValueError: malformed headers in some decoders.
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        reason = (
            "not a readable image"
            if isinstance(exc, UnidentifiedImageError)
            else f"corrupt or truncated image ({exc})"
        )
        raise ImageFileError(reason) from None
    if decoded.width == 0 or decoded.height == 0:
        raise ImageFileError("image has no pixels (zero width or height)")
    return decoded


def _to_float(image: Image.Image, channels: int) -> torch.Tensor:
    """(C, H, W) float32 in [0, 255] from any common PIL mode."""
    if image.mode in _SIXTEEN_BIT:
        gray = np.asarray(image, dtype=np.float64).clip(0, 65535) * (255.0 / 65535.0)
        planes = gray[None]
    elif image.mode == "F":  # float TIFFs: taken as already in display units
        planes = np.asarray(image, dtype=np.float64).clip(0, 255)[None]
    elif image.mode in ("L", "1"):
        planes = np.asarray(image.convert("L"), dtype=np.float64)[None]
    else:
        # Palette, RGBA, LA, CMYK, YCbCr...: RGB first (alpha dropped: exports use it, if at
        # all, as a constant), then luminance if one channel is wanted.
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64).transpose(2, 0, 1)
        planes = rgb if channels == 3 else np.tensordot(np.asarray(_LUMA), rgb, axes=1)[None]
    tensor = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))
    if tensor.shape[0] != channels:  # gray source, three channels asked for
        tensor = tensor.expand(channels, -1, -1).clone()
    return tensor


def _square_resize(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """Pad (C, H, W) to a centered square with its minimum value, then resize to ``size``."""
    _, h, w = pixels.shape
    side = max(h, w)
    if h != w:
        top, left = (side - h) // 2, (side - w) // 2
        # Pad with the image's minimum: its background, so no bright frame appears.
        padded = torch.full((pixels.shape[0], side, side), float(pixels.min()), dtype=pixels.dtype)
        padded[:, top : top + h, left : left + w] = pixels
        pixels = padded
    if side == size:
        return pixels.clone()
    resized = F.interpolate(
        pixels[None], size=(size, size), mode="bilinear", align_corners=False, antialias=side > size
    )
    return resized[0]


def list_images(
    folder: Path, problems: InputProblems | None = None, root: Path | None = None
) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name.

    Files without an image suffix and sub-folders are reported to ``problems`` (never skipped
    silently); hidden bookkeeping files (``.DS_Store``) are ignored.

    Args:
        folder: the folder to list.
        problems: where non-image entries go; ``None`` means strict.
        root: problems name entries relative to this (default: ``folder``'s parent).

    Returns:
        Sorted image paths (at least one).

    Raises:
        DataError: ``folder`` is missing or holds no image file; in strict mode also a
            non-image entry.
    """
    problems = problems if problems is not None else InputProblems(strict=True)
    base = root if root is not None else folder.parent
    if not folder.is_dir():
        raise DataError(f"Image folder {folder} does not exist.")
    images: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if is_hidden(entry.name):
            continue
        if entry.is_file() and is_image_file(entry):
            if inside_or_reported(entry, base, problems):
                images.append(entry)
        else:
            kind = (
                "a folder"
                if entry.is_dir()
                else f"not an image file (suffix {entry.suffix or 'none'!r})"
            )
            problems.add(relative(entry, base), kind)
    if not images:
        raise DataError(
            f"Image folder {folder} holds no image files.",
            hint=f"Expected files ending in {', '.join(sorted(IMAGE_SUFFIXES))}.",
        )
    return images


def count_images(folder: Path) -> int:
    """Number of image files directly inside ``folder`` (0 if it does not exist)."""
    if not folder.is_dir():
        return 0
    return sum(
        1 for e in folder.iterdir() if e.is_file() and is_image_file(e) and not is_hidden(e.name)
    )


@dataclass(frozen=True)
class ImageRef:
    """One image: a plain file, or a member of a zip archive (``member`` set)."""

    file: Path
    member: str = ""

    def where(self, root: Path) -> str:
        """Its name relative to ``root`` (``archive.zip:folder/1.png`` for a member)."""
        rel = relative(self.file, root)
        return f"{rel}:{self.member}" if self.member else rel


@dataclass
class ImageReader:
    """Decodes :class:`ImageRef` images, opening each zip archive once (opening one reads its
    whole directory); use it as a context manager so the archives are closed."""

    archives: dict[Path, zipfile.ZipFile] = field(default_factory=dict)

    def read(self, ref: ImageRef, size: int, channels: int = 1) -> torch.Tensor:
        """Decode ``ref`` (see :func:`load_image`).

        Raises:
            ImageFileError: the image, or its zip member, is unreadable.
        """
        if not ref.member:
            return load_image(ref.file, size, channels)
        try:
            if ref.file not in self.archives:
                self.archives[ref.file] = zipfile.ZipFile(ref.file)
            data = self.archives[ref.file].read(ref.member)
        except (zipfile.BadZipFile, OSError) as exc:  # a damaged member (CRC, truncation)
            raise ImageFileError(f"unreadable zip member ({exc})") from None
        return load_image(data, size, channels)

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for archive in self.archives.values():
            archive.close()
        self.archives.clear()


__all__ = [
    "IMAGE_SUFFIXES",
    "ImageFileError",
    "ImageReader",
    "ImageRef",
    "count_images",
    "is_image_file",
    "list_images",
    "load_image",
]
