"""The ``hagan`` model: training paths, sampling, AttnMix arithmetic, D's branches, reverse skip,
exact resume and the paper's ablation rows (Table IV)."""

from __future__ import annotations

import dataclasses
import io
import math

import pytest
import torch

import medganbench.run.flops
from medganbench.core.manager import Registries
from medganbench.core.model import Model, ModelContext, TrainBatch
from medganbench_plugins.models.hagan import TABLE4_ABLATION, attnmix

# Narrow networks keep the CPU tests fast; the code path is the full model's.
SMALL: dict[str, str] = {"ngf": "8", "ndf": "8", "batch_size": "4"}


def _build(
    registries: Registries, args: dict[str, str] | None = None, size: int = 32, amp: bool = False
) -> Model:
    spec = registries.models.get("hagan")
    ctx = ModelContext(
        size,
        dataclasses.replace(medganbench.run.flops.PROBE_DATASET, image_size=size),
        torch.device("cpu"),
        0,
        amp=amp,
    )
    return spec.build({**SMALL, **(args or {})}, ctx)


def _batch(seed: int, n: int = 4, size: int = 32) -> TrainBatch:
    x = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return TrainBatch(x.flip(-1), x, x > 0, x > 0, True)


@pytest.mark.parametrize("progress", [0.0, 0.9])
def test_trains_with_finite_losses_in_both_phases(registries, progress: float) -> None:
    model = _build(registries)
    for step in range(2):
        model.set_progress(progress)
        losses = model.train_step(_batch(step))
        assert all(math.isfinite(v) for v in losses.values()), losses
    # Phase two (after the 0.25 warm-up) runs AttnMix and the consistency loss; phase one does not.
    assert (losses["d_cons"] > 0) == (progress >= 0.25)
    assert (0.0 < losses["mix_label"] < 1.0) == (progress >= 0.25)


def test_sampling_is_deterministic_and_in_range(registries) -> None:
    model = _build(registries)
    model.set_progress(0.0)
    model.train_step(_batch(0))
    model.eval_mode()
    with torch.no_grad():
        one = model.sample(3, torch.Generator().manual_seed(5))
        two = model.sample(3, torch.Generator().manual_seed(5))
        other = model.sample(3, torch.Generator().manual_seed(6))
    assert one.shape == (3, 1, 32, 32)
    assert torch.equal(one, two)
    assert not torch.equal(one, other)
    assert one.min() >= -1.0 and one.max() <= 1.0


def test_attnmix_on_known_mask_and_saliency() -> None:
    real = torch.ones(1, 1, 2, 2)
    fake = -torch.ones(1, 1, 2, 2)
    mask = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])  # top row real
    saliency = torch.tensor([[[[3.0, 1.0], [2.0, 2.0]]]])  # Σ = 8, real rows hold 4
    mixed, label = attnmix(real, fake, mask, saliency, alpha=0.5)
    assert torch.equal(mixed, torch.tensor([[[[1.0, 1.0], [-1.0, -1.0]]]]))
    # λ0 = 2/4 = 0.5, λ1 = 4/8 = 0.5 → 0.5; a skewed saliency moves λ.
    torch.testing.assert_close(label, torch.tensor([0.5]))
    saliency = torch.tensor([[[[6.0, 0.0], [1.0, 1.0]]]])  # λ1 = 6/8 = 0.75
    _, label = attnmix(real, fake, mask, saliency, alpha=0.5)
    torch.testing.assert_close(label, torch.tensor([0.625]))  # 0.5·0.5 + 0.5·0.75
    _, label = attnmix(real, fake, mask, saliency, alpha=0.0)
    torch.testing.assert_close(label, torch.tensor([0.5]))  # pure CutMix area label


def test_discriminator_has_image_and_pixel_outputs(registries) -> None:
    model = _build(registries)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    img, pix, feats = model.discriminator(x)
    assert img.shape == (4,)
    assert pix is not None and pix.shape == (4, 1, 32, 32)
    assert sorted(feats) == [4, 8, 16]
    _, no_pix, _ = _build(registries, {"pixel_branch": "false"}).discriminator(x)
    assert no_pix is None


def test_reverse_skip_changes_generator_output(registries) -> None:
    model = _build(registries)
    model.set_progress(0.0)
    model.train_step(_batch(0))  # fills the running real-path features
    model.eval_mode()
    z = torch.rand(2, model.z_dim, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        with_skip, without = model.generate(z, use_skip=True), model.generate(z, use_skip=False)
    assert not torch.allclose(with_skip, without)
    assert model.generator.running_skips() is not None
    assert any(k.startswith("skip_mean_") for k in model.state_dict()["nets"][0])


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16"])
def test_checkpoint_resumes_training_exactly(registries, amp: bool) -> None:
    """Everything needed to resume is in state_dict: the next step's losses match bit for bit."""
    first = _build(registries, amp=amp)
    first.set_progress(0.9)
    first.train_step(_batch(0))
    buffer = io.BytesIO()
    torch.save({"model": first.state_dict(), "rng": torch.get_rng_state()}, buffer)
    first.set_progress(0.9)
    expected = first.train_step(_batch(1))

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    torch.manual_seed(123)  # a different construction-time RNG state
    resumed = _build(registries, amp=amp)
    resumed.load_state_dict(saved["model"])
    torch.set_rng_state(saved["rng"])
    resumed.set_progress(0.9)
    assert resumed.train_step(_batch(1)) == expected


@pytest.mark.parametrize("label", list(TABLE4_ABLATION))
def test_table4_row_trains_one_step(registries, label: str) -> None:
    model = _build(registries, {**TABLE4_ABLATION[label], "ngf": "4", "ndf": "4"})
    model.set_progress(0.5)
    losses = model.train_step(_batch(0))
    assert all(math.isfinite(v) for v in losses.values()), losses
    if TABLE4_ABLATION[label]["pixel_branch"] == "false":
        assert losses["d_pix"] == 0.0 and losses["g_pix"] == 0.0


def test_paper_sizes_are_supported(registries) -> None:
    for size in (64, 128):
        model = _build(registries, {"ngf": "2", "ndf": "2"}, size)
        model.eval_mode()
        with torch.no_grad():
            assert model.sample(1, torch.Generator().manual_seed(0)).shape == (1, 1, size, size)
