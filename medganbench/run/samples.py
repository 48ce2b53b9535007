"""Sample grids: a PNG with one row per image kind (inputs, outputs, targets)."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from medganbench.core.dataset import DomainInfo
from medganbench.fileio import atomic_write

MAX_COLUMNS = 8


def save_sample_grid(path: Path, rows: list[tuple[DomainInfo, torch.Tensor]], pad: int = 2) -> None:
    """Write a grayscale PNG grid, one row per ``(domain, images)`` pair.

    Each row shows up to :data:`MAX_COLUMNS` images of shape (N, C, H, W) in the domain's units,
    displayed through the domain's window (so a CT row shows the same HU range that is scored).
    Multi-channel images are shown as their channel mean.
    """
    columns = min(MAX_COLUMNS, min(images.shape[0] for _, images in rows))
    tiles = []
    for domain, images in rows:
        shown = domain.to_unit(images[:columns].detach().float().cpu()).add(1.0).mul(0.5)
        tiles.append(shown.mean(dim=1))  # (columns, H, W) in [0, 1]
    height, width = tiles[0].shape[-2:]
    grid = torch.ones(
        len(rows) * (height + pad) + pad, columns * (width + pad) + pad, dtype=torch.float32
    )
    for r, row in enumerate(tiles):
        for c in range(columns):
            y, x = pad + r * (height + pad), pad + c * (width + pad)
            grid[y : y + height, x : x + width] = row[c]
    pixels = grid.mul(255).round().clamp(0, 255).to(torch.uint8).numpy()
    atomic_write(path, lambda f: Image.fromarray(pixels, mode="L").save(f, format="PNG"))
