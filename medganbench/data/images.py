"""The pixel limit every image decoder checks before it allocates anything.

A crafted image (a PNG bomb, a DICOM header claiming 100,000 rows) would make a decoder allocate
gigabytes. Every reader of images the user did not write — dataset files, sample grids from a
shared runs folder — compares the size its header declares with this limit first and refuses
with one message. The limit is ``MEDGANBENCH_MAX_IMAGE_SIDE`` pixels a side (default
:data:`~medganbench.defaults.MAX_IMAGE_SIDE`, which admits the largest radiographs, about
4300 pixels a side).
"""

from __future__ import annotations

import os

from medganbench import defaults
from medganbench.errors import UsageError

MAX_SIDE_ENV = "MEDGANBENCH_MAX_IMAGE_SIDE"


def max_image_side() -> int:
    """The largest image side, in pixels, a decoder accepts.

    Raises:
        UsageError: ``MEDGANBENCH_MAX_IMAGE_SIDE`` is not a positive integer.
    """
    raw = os.environ.get(MAX_SIDE_ENV, "").strip()
    if not raw:
        return defaults.MAX_IMAGE_SIDE
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{MAX_SIDE_ENV}={raw!r} is not a positive number of pixels.")
    return int(raw)


def oversize(*sides: int) -> str | None:
    """Why an image with these side lengths is refused, or ``None`` if it is within the limit.

    Each side must be within the limit, and a volume (three sides) within 16 slices of the
    largest square image (1 G voxels at the default limit): a CT of 512 × 512 × 2000 passes, a
    header claiming 8192³ voxels does not.
    """
    limit = max_image_side()
    total = 1
    for side in sides:
        total *= max(side, 1)
    if any(side > limit for side in sides) or total > 16 * limit**2:
        shape = " × ".join(str(s) for s in sides)
        return (
            f"its header declares {shape} pixels, over the limit of {limit} a side "
            f"(raise it with {MAX_SIDE_ENV}=N if the image is genuine)"
        )
    return None
