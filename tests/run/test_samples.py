"""Sample grids carry their row labels and display window in the PNG itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from medganbench.core.dataset import DomainInfo, direction_label
from medganbench.run.samples import LABEL_HEIGHT, grid_rows, save_sample_grid, scale_note

PET = DomainInfo(name="FDG PET", modality="PET", units="SUV", window=(0.0, 20.0))
CT = DomainInfo(name="CT", modality="CT", units="HU", window=(-1024.0, 3000.0))


def _images(domain: DomainInfo, n: int = 3, size: int = 16) -> torch.Tensor:
    low, high = domain.window
    return torch.linspace(low, high, n * size * size).reshape(n, 1, size, size)


def test_labels_name_the_datasets_modalities_and_the_direction() -> None:
    rows = grid_rows("a2b", (PET, _images(PET)), (CT, _images(CT)), (CT, _images(CT)), a=PET, b=CT)
    assert [r.label for r in rows] == [
        "input PET",
        "output CT (PET -> CT, a2b)",
        "target CT",
    ]
    cycle = grid_rows("b2a2b", (CT, _images(CT)), (CT, _images(CT)), (CT, _images(CT)), a=PET, b=CT)
    assert cycle[1].label == "output CT (CT -> PET -> CT, b2a2b)"
    sampled = grid_rows(
        "a2b", (CT, _images(CT)), (CT, _images(CT)), (CT, _images(CT)), a=CT, b=CT, sampled=True
    )
    assert sampled[1].label == "sample CT (noise -> CT)"


def test_scale_note_gives_the_window_in_the_domains_units() -> None:
    assert scale_note(CT) == "window -1024 to 3000 HU"
    assert direction_label("a2b2a", "MR", "CT") == "MR → CT → MR"
    assert direction_label("weird", "MR", "CT") == "weird"


def test_the_png_has_a_label_band_with_text_above_each_row(tmp_path: Path) -> None:
    path = tmp_path / "samples.png"
    rows = grid_rows("a2b", (PET, _images(PET)), (CT, _images(CT)), (CT, _images(CT)), a=PET, b=CT)
    save_sample_grid(path, rows, pad=2)
    pixels = np.asarray(Image.open(path))
    # Three rows of 16 px tiles, each under its band; widened to fit the longest label.
    assert pixels.shape[0] == 3 * (LABEL_HEIGHT + 16 + 2) + 2
    assert pixels.shape[1] > 3 * (16 + 2) + 2
    for r in range(3):
        band = pixels[2 + r * (LABEL_HEIGHT + 18) : 2 + r * (LABEL_HEIGHT + 18) + LABEL_HEIGHT]
        assert band.min() < 128 and band.max() == 255  # dark text on white
    # Tiles are still drawn through the window: the first pixel of the first tile is black.
    assert pixels[2 + LABEL_HEIGHT, 2] == 0
