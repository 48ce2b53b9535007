"""Whole-volume translation window by window: windows half a window apart, the last one ending at
the volume's end, overlaps averaged, short volumes padded with background."""

from __future__ import annotations

import pytest
import torch

from medganbench.core.geometry import window_starts
from medganbench.run.windows import BACKGROUND, translate_by_windows


@pytest.mark.parametrize(
    ("length", "window", "starts"),
    [
        (32, 32, [0]),
        (20, 32, [0]),
        (40, 32, [0, 8]),
        (64, 32, [0, 16, 32]),
        (70, 32, [0, 16, 32, 38]),
    ],
)
def test_window_starts(length: int, window: int, starts: list[int]) -> None:
    assert window_starts(length, window) == starts


def test_overlapping_predictions_are_averaged() -> None:
    calls: list[tuple[int, ...]] = []

    def numbered(x: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return torch.full_like(x, float(2 * len(calls) - 1))  # 1, then 3

    source = torch.zeros(1, 1, 40, 4, 4)
    out = translate_by_windows(numbered, source, 32, axis=0)
    assert calls == [(1, 1, 32, 4, 4)] * 2
    assert torch.all(out[:, :, :8] == 1) and torch.all(out[:, :, 32:] == 3)
    assert torch.all(out[:, :, 8:32] == 2)


def test_windows_slide_along_the_named_axis_and_keep_the_output_channels() -> None:
    source = torch.randn(2, 1, 4, 4, 50)

    def double(x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == 16
        return torch.cat([x, 2 * x], dim=1)  # another channel count, same spatial size

    out = translate_by_windows(double, source, 16, axis=2)
    assert out.shape == (2, 2, 4, 4, 50)
    torch.testing.assert_close(out, torch.cat([source, 2 * source], dim=1))


def test_a_short_volume_is_padded_with_background_and_cropped_back() -> None:
    seen: list[torch.Tensor] = []

    def record(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return x + 1

    source = torch.zeros(1, 1, 5, 3, 3)
    out = translate_by_windows(record, source, 8, axis=0)
    assert seen[0].shape == (1, 1, 8, 3, 3)
    assert torch.all(seen[0][:, :, 5:] == BACKGROUND)
    assert out.shape == source.shape and torch.all(out == 1)
