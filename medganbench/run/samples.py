"""Sample grids: a PNG with one labelled row per image kind (inputs, outputs, targets).

Each row has a band above it that says what it shows and on what scale, drawn into the image
itself, so a grid copied into a paper or an issue still says it: ``input MR | window 0 to 1000
a.u.``, ``output CT (MR -> CT, a2b) | window -1024 to 3000 HU``. The text is ASCII (``->``):
Pillow's default font has no arrow glyph.

A volume (a row of (N, C, D, H, W) images) is shown as its three orthogonal mid-slices side by
side, axial | coronal | sagittal (named from the dataset's declared orientation, see
:mod:`medganbench.core.geometry`), and its band says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from medganbench.core.dataset import DomainInfo, direction_label
from medganbench.core.geometry import PLANES, VolumeGeometry, display_slice
from medganbench.fileio import atomic_write

MAX_COLUMNS = 8
#: Height in pixels of the label band above each row.
LABEL_HEIGHT = 14
#: Between two volumes' mid-slice triples, this many times the gap between one's planes.
SAMPLE_GAP = 4
#: Size of Pillow's default font in the label bands.
FONT_SIZE = 11


@dataclass(frozen=True)
class GridRow:
    """One row of a sample grid.

    Attributes:
        label: what the row shows, e.g. ``"input MR"``.
        domain: the domain its values are in (their window is the display scale).
        images: (N, C, H, W) in the domain's units, or (N, C, D, H, W) volumes.
        geometry: the volumes' geometry (which axis is which plane); ``None`` for 2-D images.
    """

    label: str
    domain: DomainInfo
    images: torch.Tensor
    geometry: VolumeGeometry | None = None


def scale_note(domain: DomainInfo) -> str:
    """``"window -1024 to 3000 HU"``: the values mapped from black to white."""
    low, high = domain.window
    return f"window {low:g} to {high:g} {domain.units}".rstrip()


def grid_rows(
    direction: str,
    source: tuple[DomainInfo, torch.Tensor],
    output: tuple[DomainInfo, torch.Tensor],
    target: tuple[DomainInfo, torch.Tensor],
    a: DomainInfo,
    b: DomainInfo,
    sampled: bool = False,
    geometry: VolumeGeometry | None = None,
) -> list[GridRow]:
    """The three rows of a direction's grid, labelled with the modalities of ``a`` and ``b``.

    A translation shows ``input``, ``output (<direction in modalities>, <code>)`` and
    ``target``; a sampling model (``sampled``), which has no input, shows a real image, its
    samples (``noise -> <modality>``) and the real images they are scored against. Volumes
    (``geometry`` given) are shown as their mid-slices (:func:`render_sample_grid`).
    """
    path = direction_label(direction, a.modality, b.modality, arrow="->")
    if sampled:
        labels = (
            f"real {source[0].modality} (not an input)",
            f"sample {output[0].modality} (noise -> {output[0].modality})",
            f"real {target[0].modality} (scored against)",
        )
    else:
        labels = (
            f"input {source[0].modality}",
            f"output {output[0].modality} ({path}, {direction})",
            f"target {target[0].modality}",
        )
    return [
        GridRow(label, d, x, geometry)
        for label, (d, x) in zip(labels, (source, output, target), strict=True)
    ]


def _planes_note(row: GridRow) -> str:
    return "" if row.geometry is None else f" | mid-slices {' / '.join(PLANES)}"


def _mid_slice_tiles(volumes: torch.Tensor, geometry: VolumeGeometry, pad: int) -> torch.Tensor:
    """(N, D, H, W) volumes in [0, 1] → (N, h, w) tiles: each volume's axial, coronal and
    sagittal mid-slices side by side, turned as radiologists view them
    (:func:`~medganbench.core.geometry.display_slice`), ``pad`` white pixels apart,
    bottom-padded white to the tallest."""
    tiles = []
    for volume in volumes:
        vol = volume.unsqueeze(0)
        planes = [
            display_slice(vol, geometry, p, vol.shape[1 + geometry.plane_axis(p)] // 2)
            for p in PLANES
        ]
        height = max(p.shape[-2] for p in planes)
        parts: list[torch.Tensor] = []
        for p in planes:
            image = p[0]
            if parts:
                parts.append(torch.ones(height, pad))
            parts.append(
                torch.nn.functional.pad(image, (0, 0, 0, height - image.shape[0]), value=1.0)
            )
        tiles.append(torch.cat(parts, dim=1))
    return torch.stack(tiles)


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def save_sample_grid(path: Path, rows: Sequence[GridRow], pad: int = 2) -> None:
    """Write :func:`render_sample_grid`'s grid as a PNG, atomically."""
    image = render_sample_grid(rows, pad)
    atomic_write(path, lambda f: image.save(f, format="PNG"))


def render_sample_grid(rows: Sequence[GridRow], pad: int = 2) -> Image.Image:
    """A grayscale grid image, one labelled row per :class:`GridRow`.

    Each row shows up to :data:`MAX_COLUMNS` images, displayed through the row domain's window
    (so a CT row shows the same HU range that is scored) under a white band of
    :data:`LABEL_HEIGHT` pixels holding its label and :func:`scale_note`. Multi-channel images
    are shown as their channel mean. The grid is widened where a label is longer than the row.
    """
    font = _font()
    texts = [f"{row.label} | {scale_note(row.domain)}{_planes_note(row)}" for row in rows]
    columns = min(MAX_COLUMNS, min(row.images.shape[0] for row in rows))
    tiles = []
    for row in rows:
        shown = row.domain.to_unit(row.images[:columns].detach().float().cpu()).add(1.0).mul(0.5)
        flat = shown.mean(dim=1)  # (columns, H, W) or (columns, D, H, W) in [0, 1]
        tiles.append(flat if row.geometry is None else _mid_slice_tiles(flat, row.geometry, pad))
    height, width = tiles[0].shape[-2:]
    # Volumes: a wider gap between samples than between one sample's three planes.
    gap = pad if all(row.geometry is None for row in rows) else SAMPLE_GAP * pad
    text_width = max(int(np.ceil(font.getlength(t))) for t in texts) + 2 * pad
    band = LABEL_HEIGHT + height + pad
    grid = torch.ones(
        len(rows) * band + pad,
        max(columns * (width + gap) - gap + 2 * pad, text_width),
        dtype=torch.float32,
    )
    for r, row_tiles in enumerate(tiles):
        for c in range(columns):
            y, x = pad + r * band + LABEL_HEIGHT, pad + c * (width + gap)
            grid[y : y + height, x : x + width] = row_tiles[c]
    pixels = grid.mul(255).round().clamp(0, 255).to(torch.uint8).numpy()
    image = Image.fromarray(pixels, mode="L")
    draw = ImageDraw.Draw(image)
    for r, text in enumerate(texts):
        draw.text((pad, pad + r * band), text, fill=0, font=font)
    return image
