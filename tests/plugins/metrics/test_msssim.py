"""``ms-ssim`` (medganbench convention) against pytorch-msssim, an independent implementation."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from medganbench.core.metric import EvalBatch
from medganbench.errors import DataError
from medganbench_plugins.metrics.msssim import MIN_SIZE, MSSSIM, ms_ssim

pytorch_msssim = pytest.importorskip("pytorch_msssim")

TOL = 1e-5
WINDOW = (-1024.0, 3000.0)


def _pair(shape: tuple[int, ...], noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g, dtype=torch.float64) * 3000 - 1000
    smooth = F.avg_pool2d(target.flatten(0, -3)[:, None], 5, 1, 2)[:, 0].reshape(shape)
    pred = smooth + noise * torch.randn(shape, generator=g, dtype=torch.float64)
    return pred, smooth


def _unit(x: torch.Tensor) -> torch.Tensor:
    lo, hi = WINDOW
    return (x.clamp(lo, hi) - lo) / (hi - lo)


def _reference(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # float32 (pytorch-msssim builds its window in float32 anyway): several times faster.
    x, y = _unit(pred).float(), _unit(target).float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "skipping Gaussian smoothing" of thin 3-D inputs
        return pytorch_msssim.ms_ssim(x, y, data_range=1, size_average=False).double()


def test_matches_pytorch_msssim_on_large_images() -> None:
    pred, target = _pair((2, 2, 162, 170), noise=150.0, seed=0)
    torch.testing.assert_close(
        ms_ssim(pred, target, window=WINDOW), _reference(pred, target), rtol=0, atol=TOL
    )


def test_small_images_equal_pytorch_msssim_of_the_edge_padded_images() -> None:
    pred, target = _pair((2, 1, 32, 40), noise=300.0, seed=1)
    pad_h, pad_w = MIN_SIZE - 32, MIN_SIZE - 40
    pads = [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]
    want = _reference(F.pad(pred, pads, mode="replicate"), F.pad(target, pads, mode="replicate"))
    torch.testing.assert_close(ms_ssim(pred, target, window=WINDOW), want, rtol=0, atol=TOL)


def test_mask_sets_both_images_to_the_window_floor_outside() -> None:
    pred, target = _pair((2, 1, 168, 164), noise=200.0, seed=2)
    mask = torch.zeros((2, 1, 168, 164), dtype=torch.bool)
    mask[:, :, 30:140, 20:150] = True
    floor = torch.full_like(pred, WINDOW[0])
    want = _reference(torch.where(mask, pred, floor), torch.where(mask, target, floor))
    got = ms_ssim(pred, target, window=WINDOW, mask=mask)
    torch.testing.assert_close(got, want, rtol=0, atol=TOL)


@pytest.mark.slow
def test_matches_pytorch_msssim_in_3d() -> None:
    pred, target = _pair((1, 1, MIN_SIZE, MIN_SIZE, MIN_SIZE), noise=300.0, seed=3)
    want = _reference(pred, target)
    torch.testing.assert_close(ms_ssim(pred, target, window=WINDOW), want, rtol=0, atol=TOL)


def test_identical_images_score_one() -> None:
    _, target = _pair((2, 1, 40, 40), noise=0.0, seed=4)
    got = ms_ssim(target, target.clone(), window=WINDOW)
    torch.testing.assert_close(got, torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-12)


def test_metric_class_averages_images() -> None:
    pred, target = _pair((4, 1, 32, 32), noise=250.0, seed=5)
    mask = torch.ones((4, 1, 32, 32), dtype=torch.bool)
    metric = MSSSIM({})
    metric.update(EvalBatch(pred[:2], target[:2], mask[:2], WINDOW, paired=True))
    metric.update(EvalBatch(pred[2:], target[2:], mask[2:], WINDOW, paired=True))
    want = ms_ssim(pred, target, window=WINDOW, mask=mask).mean()
    assert metric.compute() == pytest.approx(float(want), rel=1e-12)


def test_mismatched_shapes_are_a_data_error() -> None:
    pred, target = _pair((2, 1, 32, 32), noise=1.0, seed=6)
    with pytest.raises(DataError, match="ms-ssim"):
        ms_ssim(pred, target[:1], window=WINDOW)
