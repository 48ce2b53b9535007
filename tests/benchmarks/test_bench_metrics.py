"""Benchmarks of the batched torch metrics against scikit-image looped over the images.

Each pair of benchmarks shares a ``benchmark.group`` so the table compares them directly, and each
benchmark asserts on what it returns, so a fast but wrong implementation fails. Inputs: 16
CT-like 1 x 128 x 128 slices in HU (float64). Run with ``--benchmark-disable`` to only check
results.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from medganbench_plugins.metrics.paired import psnr, ssim

CT_WINDOW = (-1024.0, 3000.0)
LO, HI = CT_WINDOW
RANGE = HI - LO
N, SIZE = 16, 128
# pytest-benchmark's default max_time is 1 s per benchmark; 0.3 s keeps the file fast. A few
# warm-up calls first: torch allocates fresh multi-MB buffers per call, and on a cold process
# (notably in a VM) the first page faults cost far more than the arithmetic.
BENCH = {"max_time": 0.3, "warmup": True, "warmup_iterations": 3}


def _ct_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """16 seeded CT-like slices (body ellipse, bone rim, noise) and noisy predictions, in HU.

    Returns:
        ``(pred, target)``, float64 (16, 1, 128, 128).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-1 : 1 : SIZE * 1j, -1 : 1 : SIZE * 1j]
    a = rng.uniform(0.6, 0.85, size=(N, 1, 1))
    b = rng.uniform(0.5, 0.8, size=(N, 1, 1))
    r = np.sqrt((yy / b) ** 2 + (xx / a) ** 2)
    target = np.where(r < 1, 40.0, -1010.0) + np.where((r > 0.85) & (r < 1), 1160.0, 0.0)
    target = target + rng.normal(0.0, 20.0, size=target.shape)
    pred = target + 30.0 * np.sin(3 * xx) + rng.normal(0.0, 40.0, size=target.shape)
    return torch.from_numpy(pred[:, None]), torch.from_numpy(target[:, None])


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """The benchmark batch as torch tensors (the torch metrics clip it themselves)."""
    return _ct_batch()


@pytest.fixture(scope="module")
def arrays(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """The same batch as numpy (16, 128, 128) arrays, unclipped."""
    pred, target = batch
    return pred[:, 0].numpy(), target[:, 0].numpy()


def _skimage_ssim_loop(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """scikit-image SSIM image by image, after clipping and rescaling the window to [0, 1]."""
    # Clipping is timed on both sides so the comparison covers the same work.
    x, y = (np.clip(pred, LO, HI) - LO) / RANGE, (np.clip(target, LO, HI) - LO) / RANGE
    return np.array(
        [
            structural_similarity(
                y[i],
                x[i],
                data_range=1.0,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
            for i in range(len(x))
        ]
    )


def _skimage_psnr_loop(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """scikit-image PSNR image by image with the CT data range, after clipping."""
    pred, target = np.clip(pred, LO, HI), np.clip(target, LO, HI)
    return np.array(
        [peak_signal_noise_ratio(target[i], pred[i], data_range=RANGE) for i in range(len(pred))]
    )


@pytest.mark.benchmark(group="ssim-16x1x128x128", **BENCH)
def test_bench_ssim_torch(
    benchmark: BenchmarkFixture,
    batch: tuple[torch.Tensor, torch.Tensor],
    arrays: tuple[np.ndarray, np.ndarray],
) -> None:
    pred, target = batch
    got = benchmark(ssim, pred, target, window=CT_WINDOW)
    np.testing.assert_allclose(got.numpy(), _skimage_ssim_loop(*arrays), rtol=0, atol=1e-12)


@pytest.mark.benchmark(group="ssim-16x1x128x128", **BENCH)
def test_bench_ssim_skimage_loop(
    benchmark: BenchmarkFixture,
    batch: tuple[torch.Tensor, torch.Tensor],
    arrays: tuple[np.ndarray, np.ndarray],
) -> None:
    got = benchmark(_skimage_ssim_loop, *arrays)
    pred, target = batch
    np.testing.assert_allclose(got, ssim(pred, target, window=CT_WINDOW).numpy(), atol=1e-12)


@pytest.mark.benchmark(group="psnr-16x1x128x128", **BENCH)
def test_bench_psnr_torch(
    benchmark: BenchmarkFixture,
    batch: tuple[torch.Tensor, torch.Tensor],
    arrays: tuple[np.ndarray, np.ndarray],
) -> None:
    pred, target = batch
    got = benchmark(psnr, pred, target, window=CT_WINDOW)
    np.testing.assert_allclose(got.numpy(), _skimage_psnr_loop(*arrays), rtol=0, atol=1e-10)


@pytest.mark.benchmark(group="psnr-16x1x128x128", **BENCH)
def test_bench_psnr_skimage_loop(
    benchmark: BenchmarkFixture,
    batch: tuple[torch.Tensor, torch.Tensor],
    arrays: tuple[np.ndarray, np.ndarray],
) -> None:
    got = benchmark(_skimage_psnr_loop, *arrays)
    pred, target = batch
    np.testing.assert_allclose(got, psnr(pred, target, window=CT_WINDOW).numpy(), atol=1e-10)
