"""Correctness of the paired metrics ``psnr``, ``ssim`` and ``mae``.

References are scikit-image (``peak_signal_noise_ratio``, ``structural_similarity``) and explicit
numpy, computed image by image on images clipped to the CT window, so each test checks both the
formula and the conventions (clipping, data range, per-image averaging, masking).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.metric import EvalBatch, PairedMetric
from medganbench.errors import DataError
from medganbench_plugins.metrics import paired
from medganbench_plugins.metrics.paired import MAE, PSNR, SSIM, mae, psnr, ssim

CT_WINDOW = (-1024.0, 3000.0)
LO, HI = CT_WINDOW
RANGE = HI - LO  # 4024 HU
BORDER = 5  # (11 - 1) / 2: pixels scikit-image crops from each side of the SSIM map

MetricFn = Callable[..., torch.Tensor]
ALL_METRICS: list[MetricFn] = [psnr, ssim, mae]


def ct_pair(
    n: int = 5, size: int = 56, channels: int = 1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded batch of phantom-like CT slices in HU, a noisy "translation", and body masks.

    Each target is an ellipse of soft tissue (~40 HU) with a bone rim (~1200 HU) and a smooth
    inner structure in air (~-1010 HU), plus noise; some pixels fall outside the CT window on
    both sides (air noise below -1024, a metal spot above 3000), so clipping matters.

    Returns:
        ``(pred, target, mask)``: float64 (n, channels, size, size) twice and bool
        (n, 1, size, size).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    targets, preds, masks = [], [], []
    for _ in range(n):
        a, b = rng.uniform(0.6, 0.85), rng.uniform(0.5, 0.8)
        cy, cx = rng.uniform(-0.1, 0.1, size=2)
        r = np.sqrt(((yy - cy) / b) ** 2 + ((xx - cx) / a) ** 2)
        body = r < 1.0
        blob = 60.0 * np.exp(-((yy - cy) ** 2 + (xx - cx + 0.2) ** 2) / 0.05)
        image = np.where(body, 40.0 + blob, -1010.0) + np.where((r > 0.85) & body, 1160.0, 0.0)
        image[size // 2, size // 2] = 3500.0  # metal: above the window
        target = image[None] + rng.normal(0.0, 20.0, size=(channels, size, size))
        bias = 30.0 * np.sin(3 * xx + rng.uniform(0, np.pi))  # a smooth translation error
        pred = target + bias + rng.normal(0.0, 40.0, size=(channels, size, size))
        targets.append(target)
        preds.append(pred)
        masks.append(body[None])
    return (
        torch.from_numpy(np.stack(preds)),
        torch.from_numpy(np.stack(targets)),
        torch.from_numpy(np.stack(masks)),
    )


def clipped(x: torch.Tensor) -> np.ndarray:
    """Clip to the CT window and convert to numpy (what the references receive)."""
    return x.clamp(LO, HI).numpy()


def unit(x: torch.Tensor) -> np.ndarray:
    """Clip to the CT window and rescale it to [0, 1], as SSIM's convention states."""
    return (clipped(x) - LO) / RANGE


def skimage_ssim(x: np.ndarray, y: np.ndarray, **kwargs: object) -> object:
    """scikit-image SSIM with the arguments of the medganbench convention."""
    return structural_similarity(
        x,
        y,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------
# Agreement with scikit-image and numpy, no mask
# --------------------------------------------------------------------------------------------


def test_psnr_matches_skimage_per_image() -> None:
    pred, target, _ = ct_pair()
    got = psnr(pred, target, window=CT_WINDOW)
    p, t = clipped(pred), clipped(target)
    want = [peak_signal_noise_ratio(t[i, 0], p[i, 0], data_range=RANGE) for i in range(len(p))]
    assert got.dtype == torch.float64 and got.shape == (len(p),)
    # Observed max abs difference: 0.0 dB (bit-identical on this data).
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-10)


def test_ssim_matches_skimage_per_image() -> None:
    pred, target, _ = ct_pair()
    got = ssim(pred, target, window=CT_WINDOW)
    p, t = unit(pred), unit(target)
    want = [skimage_ssim(t[i, 0], p[i, 0]) for i in range(len(p))]
    assert got.dtype == torch.float64 and got.shape == (len(p),)
    # Observed max abs difference: 4.4e-16 (float64 rounding: the filters sum in another
    # order). The contract's tolerance is 1e-5; the second check shows how much closer it is.
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)


def test_ssim_multichannel_averages_channels_like_skimage_channel_axis() -> None:
    pred, target, _ = ct_pair(n=3, channels=3, seed=1)
    got = ssim(pred, target, window=CT_WINDOW)
    p, t = unit(pred), unit(target)
    want = [skimage_ssim(t[i], p[i], channel_axis=0) for i in range(len(p))]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)


def test_mae_matches_numpy_mean_abs() -> None:
    pred, target, _ = ct_pair()
    got = mae(pred, target, window=CT_WINDOW)
    want = np.abs(clipped(pred) - clipped(target)).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------------------------
# With a body mask
# --------------------------------------------------------------------------------------------


def test_psnr_with_mask_uses_mse_over_masked_pixels_of_all_channels() -> None:
    pred, target, mask = ct_pair(channels=2, seed=2)
    got = psnr(pred, target, window=CT_WINDOW, mask=mask)
    p, t, m = clipped(pred), clipped(target), mask.numpy()
    want = []
    for i in range(len(p)):
        inside = np.broadcast_to(m[i], p[i].shape)  # the (1, H, W) mask covers every channel
        mse = np.mean((p[i][inside] - t[i][inside]) ** 2)
        want.append(10 * np.log10(RANGE**2 / mse))
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-10)


def test_mae_with_mask_is_mean_abs_over_masked_pixels_of_all_channels() -> None:
    pred, target, mask = ct_pair(channels=2, seed=3)
    got = mae(pred, target, window=CT_WINDOW, mask=mask)
    p, t, m = clipped(pred), clipped(target), mask.numpy()
    want = [np.abs(p[i] - t[i])[np.broadcast_to(m[i], p[i].shape)].mean() for i in range(len(p))]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=0)


def test_mask_changes_the_value() -> None:
    # Guards against a mask silently ignored: air pixels are easy, so the body-only MAE differs.
    pred, target, mask = ct_pair(seed=4)
    assert not torch.allclose(
        mae(pred, target, window=CT_WINDOW, mask=mask), mae(pred, target, window=CT_WINDOW)
    )


def test_ssim_with_mask_averages_skimage_full_map_over_cropped_mask() -> None:
    pred, target, mask = ct_pair(seed=5)
    got = ssim(pred, target, window=CT_WINDOW, mask=mask)
    p, t, m = unit(pred), unit(target), mask.numpy()
    crop = np.s_[BORDER:-BORDER, BORDER:-BORDER]
    want = []  # observed max abs difference: 1.2e-15
    for i in range(len(p)):
        _, ssim_map = skimage_ssim(t[i, 0], p[i, 0], full=True)
        want.append(ssim_map[crop][m[i, 0][crop]].mean())
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Conventions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_values_beyond_the_window_count_as_the_window_bound(metric: MetricFn) -> None:
    pred, target, mask = ct_pair(seed=6)
    assert (pred <= LO).any() and (target >= HI).any()  # the phantom crosses both bounds
    # Push some pixels far outside the window on both sides; clipping must undo that.
    pred_wild, target_wild = pred.clone(), target.clone()
    pred_wild[pred <= LO] = -5000.0
    target_wild[target >= HI] = 9000.0
    pred_c, target_c = pred.clamp(LO, HI), target.clamp(LO, HI)
    for m in (None, mask):
        got = metric(pred_wild, target_wild, window=CT_WINDOW, mask=m)
        want = metric(pred_c, target_c, window=CT_WINDOW, mask=m)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_identical_images_give_infinite_psnr() -> None:
    _, target, mask = ct_pair()
    assert torch.isposinf(psnr(target, target, window=CT_WINDOW)).all()
    assert torch.isposinf(psnr(target, target, window=CT_WINDOW, mask=mask)).all()


def test_identical_images_give_ssim_one() -> None:
    _, target, mask = ct_pair()
    ones = torch.ones(len(target), dtype=torch.float64)
    torch.testing.assert_close(ssim(target, target, window=CT_WINDOW), ones, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        ssim(target, target, window=CT_WINDOW, mask=mask), ones, rtol=0, atol=1e-12
    )


def test_identical_images_give_mae_zero() -> None:
    _, target, mask = ct_pair()
    assert (mae(target, target, window=CT_WINDOW) == 0).all()
    assert (mae(target, target, window=CT_WINDOW, mask=mask) == 0).all()


@pytest.mark.parametrize("offset", [1.0, 7.5, 100.0])
def test_constant_offset_gives_golden_psnr(offset: float) -> None:
    # PSNR = 10 log10(R^2 / d^2) = 20 log10(R / d): checks the squared peak and the square
    # root convention (a paper-style 10 log10(R / MSE) would give a very different number).
    target = torch.linspace(-900.0, 2800.0, 2 * 3 * 32 * 32, dtype=torch.float64)
    target = target.reshape(2, 3, 32, 32)  # inside the window even after the offset
    got = psnr(target + offset, target, window=CT_WINDOW)
    want = torch.full((2,), 20 * np.log10(RANGE / offset), dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_constant_offset_gives_mae_equal_to_offset() -> None:
    target = torch.linspace(-900.0, 2800.0, 64 * 64, dtype=torch.float64).reshape(1, 1, 64, 64)
    got = mae(target - 25.0, target, window=CT_WINDOW)
    torch.testing.assert_close(got, torch.tensor([25.0], dtype=torch.float64), rtol=0, atol=1e-9)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_float32_inputs_are_computed_in_float64(metric: MetricFn) -> None:
    pred, target, mask = ct_pair(seed=7)
    pred32, target32 = pred.float(), target.float()
    got = metric(pred32, target32, window=CT_WINDOW, mask=mask)
    # The same float32 values, promoted by the caller: the metric must promote identically.
    want = metric(pred32.double(), target32.double(), window=CT_WINDOW, mask=mask)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# Metric classes and plugin registration
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "fn"), [(PSNR, psnr), (SSIM, ssim), (MAE, mae)], ids=["psnr", "ssim", "mae"]
)
def test_metric_class_averages_per_image_values_over_batches(
    cls: type[PairedMetric], fn: MetricFn
) -> None:
    batches = [ct_pair(n=3, seed=8), ct_pair(n=5, seed=9)]
    metric = cls({})
    for pred, target, mask in batches:
        metric.update(EvalBatch(pred, target, mask, CT_WINDOW, paired=True))
    per_image = torch.cat([fn(p, t, window=CT_WINDOW, mask=m) for p, t, m in batches])
    assert len(per_image) == 8
    assert metric.compute() == pytest.approx(float(per_image.mean()), rel=1e-12)


@pytest.mark.parametrize(
    ("cls", "higher"), [(PSNR, True), (SSIM, True), (MAE, False)], ids=["psnr", "ssim", "mae"]
)
def test_metric_class_declares_direction_and_convention(
    cls: type[PairedMetric], higher: bool
) -> None:
    assert cls.higher_is_better is higher
    assert cls.convention and "\n" not in cls.convention  # one line, written on every row


def test_hook_registers_three_metrics_whose_factories_build() -> None:
    pm = make_plugin_manager(builtins=False, autoload=False, extra=(paired,))
    registry = build_registries(pm).metrics
    assert sorted(registry.names()) == ["mae", "psnr", "ssim"]
    expected = {"psnr": PSNR, "ssim": SSIM, "mae": MAE}
    for name, cls in expected.items():
        spec = registry.get(name)
        assert spec.version == "1"
        metric = spec.build({})
        assert type(metric) is cls


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_empty_mask_raises_data_error_naming_the_image(metric: MetricFn) -> None:
    pred, target, mask = ct_pair(n=4, seed=10)
    mask[2] = False
    with pytest.raises(DataError, match=r"image\(s\) 2 "):
        metric(pred, target, window=CT_WINDOW, mask=mask)


def test_ssim_mask_only_on_the_border_raises_data_error() -> None:
    # The mask is non-empty but has no pixel in the interior where the SSIM map exists.
    pred, target, mask = ct_pair(n=2, seed=11)
    mask[1] = False
    mask[1, 0, :BORDER, :] = True
    with pytest.raises(DataError, match="valid interior"):
        ssim(pred, target, window=CT_WINDOW, mask=mask)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_shape_mismatch_raises_data_error(metric: MetricFn) -> None:
    pred, target, _ = ct_pair(n=3, seed=12)
    with pytest.raises(DataError, match="shapes differ"):
        metric(pred[:2], target, window=CT_WINDOW)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_non_4d_input_raises_data_error(metric: MetricFn) -> None:
    pred, target, _ = ct_pair(n=1, seed=13)
    with pytest.raises(DataError, match="4-D"):
        metric(pred[0], target[0], window=CT_WINDOW)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_mask_of_wrong_shape_or_dtype_raises_data_error(metric: MetricFn) -> None:
    pred, target, mask = ct_pair(n=2, channels=2, seed=14)
    with pytest.raises(DataError, match="shape"):
        metric(pred, target, window=CT_WINDOW, mask=mask.expand(-1, 2, -1, -1))
    with pytest.raises(DataError, match="bool"):
        metric(pred, target, window=CT_WINDOW, mask=mask.double())


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_invalid_window_raises_data_error(metric: MetricFn) -> None:
    pred, target, _ = ct_pair(n=1, seed=15)
    with pytest.raises(DataError, match="window"):
        metric(pred, target, window=(3000.0, -1024.0))


def test_ssim_on_images_smaller_than_the_window_raises_data_error() -> None:
    image = torch.zeros(2, 1, 10, 32, dtype=torch.float64)
    with pytest.raises(DataError, match="11x11"):
        ssim(image, image, window=CT_WINDOW)
