"""The rest of paper 002's baselines: wgan (clipping), infogan, unetgan and ddpm."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from medganbench.core.manager import Registries
from medganbench.core.model import Model, ModelContext, TrainBatch
from medganbench.errors import UsageError
from medganbench_plugins.models.diffusion_base import ema_decay
from medganbench_plugins.models.unetgan import mix_probability
from medganbench_plugins.nn.diffusion import (
    LinearSchedule,
    ancestral_sample,
    ddim_sample,
    sample_timesteps,
    training_loss,
)
from medganbench_plugins.nn.mixing import cutmix_mask

SMALL = {"ngf": "8", "ndf": "8", "batch_size": "4", "z_dim": "16"}
SMALL_DDPM = {"ch": "32", "batch_size": "4", "sampler": "ddim", "sample_steps": "3"}


def _build(registries: Registries, name: str, args: dict[str, str] | None = None) -> Model:
    from medganbench.run.flops import PROBE_DATASET

    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=32)
    base = SMALL_DDPM if name == "ddpm" else SMALL
    return spec.build({**base, **(args or {})}, ModelContext(32, info, torch.device("cpu"), 0))


def _batch(seed: int = 0) -> TrainBatch:
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return TrainBatch(x.flip(-1), x, x > 0, x > 0, False)


# ---- wgan -----------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_wgan_clips_every_critic_weight_after_a_step(registries, arch: str) -> None:
    model = _build(registries, "wgan", {"arch": arch, "clip": "0.02", "n_critic": "2"})
    model.train_step(_batch())
    values = torch.cat([p.detach().flatten() for p in model.critic.parameters()])
    assert values.abs().max() <= 0.02 and (values.abs() == 0.02).any()
    assert isinstance(model.opt_d, torch.optim.RMSprop) and isinstance(
        model.opt_g, torch.optim.RMSprop
    )


def test_wgan_critic_loss_is_the_wasserstein_estimate(registries) -> None:
    model = _build(registries, "wgan")
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5])
    assert model.adv.d_loss(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert model.adv.penalty_weight == 0.0


# ---- infogan --------------------------------------------------------------------------------


def test_infogan_latent_is_noise_one_hot_codes_and_continuous_codes(registries) -> None:
    model = _build(registries, "infogan", {"n_cat": "2", "cat_dim": "5", "cont_dim": "3"})
    latent = model.latent(64, torch.Generator().manual_seed(0))
    assert latent.shape == (64, 16 + 10 + 3)
    one_hot = latent[:, 16:26].view(64, 2, 5)
    assert torch.equal(one_hot.sum(-1), torch.ones(64, 2))
    assert latent[:, 26:].abs().max() <= 1.0 and latent[:, :16].abs().max() <= 1.0


def test_infogan_information_loss_golden_values(registries) -> None:
    model = _build(registries, "infogan", {"cat_dim": "4", "cont_dim": "2"})
    latent = model.latent(8, torch.Generator().manual_seed(0))
    codes = latent[:, 16:]
    perfect = torch.cat([codes[:, :4] * 50.0, codes[:, 4:]], dim=1)  # confident, exact means
    assert model.info_loss(perfect, latent).item() == pytest.approx(0.0, abs=1e-6)
    wrong = torch.cat([-codes[:, :4] * 50.0, codes[:, 4:] + 1.0], dim=1)
    # Logits (−50 for the true class, 0 for the 3 others): CE = 50 + log 3; plus ½·1² for each
    # of the two continuous codes.
    assert model.info_loss(wrong, latent).item() == pytest.approx(
        50.0 + math.log(3) + 1.0, rel=1e-5
    )


def test_infogan_trains_q_with_the_discriminator(registries) -> None:
    model = _build(registries, "infogan")
    before = [p.detach().clone() for p in model.q_head.parameters()]
    losses = model.train_step(_batch())
    assert all(math.isfinite(v) for v in losses.values()) and losses["info_d"] > 0
    assert any(
        not torch.equal(b, p) for b, p in zip(before, model.q_head.parameters(), strict=True)
    )


def test_infogan_refuses_batches_of_one(registries) -> None:
    with pytest.raises(UsageError, match="batch_size >= 2"):
        _build(registries, "infogan", {"batch_size": "1"})


# ---- unetgan --------------------------------------------------------------------------------


def test_unetgan_mix_probability_warms_up_linearly_to_one_half() -> None:
    assert [mix_probability(p, 0.4) for p in (0.0, 0.1, 0.4, 0.9)] == [0.0, 0.125, 0.5, 0.5]
    assert mix_probability(0.0, 0.0) == 0.5


def test_unetgan_discriminator_scores_images_and_pixels(registries) -> None:
    model = _build(registries, "unetgan")
    image, pixels = model.critic(_batch().b)
    assert image.shape == (4,) and pixels.shape == (4, 1, 32, 32)


def test_unetgan_mixes_nothing_before_the_warm_up_starts(registries) -> None:
    model = _build(registries, "unetgan", {"warmup": "0.5"})
    model.set_progress(0.0)
    assert all(model.train_step(_batch(s))["mixed"] == 0.0 for s in range(3))


def test_unetgan_consistency_vanishes_when_the_mix_is_all_real(
    registries, monkeypatch: pytest.MonkeyPatch
) -> None:
    import medganbench_plugins.models.unetgan as unetgan

    model = _build(registries, "unetgan")
    real = _batch().b
    # A mask of ones mixes in only real pixels: D_dec(mix) = D_dec(real) = the mixed target.
    monkeypatch.setattr(unetgan, "cutmix_mask", lambda n, size, rng: torch.ones(n, 1, size, size))
    model.critic.eval()  # no spectral-norm power iteration between the three passes
    _, consistency = model._d_loss(real, torch.zeros_like(real), mixed_step=True)
    assert consistency.item() == pytest.approx(0.0, abs=1e-10)


def test_cutmix_masks_are_binary_rectangles_of_either_kind() -> None:
    masks = cutmix_mask(64, 16, torch.Generator().manual_seed(0))
    assert masks.shape == (64, 1, 16, 16) and set(masks.unique().tolist()) <= {0.0, 1.0}
    share = masks.flatten(1).mean(1)
    assert (share > 0.5).any() and (share < 0.5).any()


# ---- ddpm -----------------------------------------------------------------------------------


def test_linear_schedule_matches_the_papers_values() -> None:
    schedule = LinearSchedule()
    betas = schedule.betas
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    # ᾱ_T of Ho et al.'s schedule: the signal left at t = T (≈ 4.04e-5, so x_T is almost pure noise).
    assert schedule.alphas_cumprod[-1].item() == pytest.approx(4.0358e-5, rel=1e-3)


def _oracle(point: float, schedule: LinearSchedule):
    """The exact ε for data that is the single image ``point`` everywhere."""
    abar = schedule.alphas_cumprod

    def eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = abar[t.cpu()].float().view(-1, 1, 1, 1)
        return (x - a.sqrt() * point) / (1 - a).sqrt()

    return eps


def test_training_loss_is_zero_for_the_exact_denoiser() -> None:
    schedule = LinearSchedule()
    x0 = torch.full((6, 1, 8, 8), 0.3)
    loss = training_loss(_oracle(0.3, schedule), x0, schedule, torch.Generator().manual_seed(0))
    assert loss.item() == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_samplers_recover_a_point_distribution_with_the_exact_denoiser(sampler: str) -> None:
    schedule = LinearSchedule(timesteps=100)
    gen, device = torch.Generator().manual_seed(0), torch.device("cpu")
    if sampler == "ancestral":
        x = ancestral_sample(_oracle(0.3, schedule), (3, 1, 8, 8), schedule, gen, device)
    else:
        x = ddim_sample(_oracle(0.3, schedule), (3, 1, 8, 8), schedule, 10, gen, device)
    torch.testing.assert_close(x, torch.full_like(x, 0.3), rtol=0, atol=1e-4)


def test_leading_timesteps_are_evenly_spaced_and_descending() -> None:
    assert sample_timesteps(1000, 4) == [750, 500, 250, 0]
    assert sample_timesteps(10, 10) == list(range(9, -1, -1))


def test_ancestral_sampling_needs_every_step(registries) -> None:
    with pytest.raises(UsageError, match="sample_steps must be 1000"):
        _build(registries, "ddpm", {"sampler": "ancestral", "sample_steps": "50"})


def test_ddpm_samples_deterministically_per_seed(registries) -> None:
    model = _build(registries, "ddpm")
    model.train_step(_batch())
    model.eval_mode()
    one, two = (model.sample(2, torch.Generator().manual_seed(3)) for _ in range(2))
    other = model.sample(2, torch.Generator().manual_seed(4))
    assert torch.equal(one, two) and not torch.equal(one, other)


def test_ddpm_moving_average_warms_up_then_holds_the_decay() -> None:
    assert ema_decay(0.9999, 0) == pytest.approx(0.1)
    assert ema_decay(0.9999, 90) == pytest.approx(0.91)
    assert ema_decay(0.9999, 10**6) == 0.9999


def test_ddpm_counts_the_denoiser_once(registries) -> None:
    model = _build(registries, "ddpm")
    assert model.parameter_count() == sum(p.numel() for p in model.net.parameters())


def test_ddpm_sampler_and_steps_are_part_of_the_run_identity(registries) -> None:
    from medganbench.run.spec import RunSpec, resolve_run

    def resolved(args: dict[str, str]):
        return resolve_run(
            RunSpec(model="ddpm", model_args=args, dataset_args={"domain": "b"}), registries
        )

    fifty = resolved({"sampler": "ddim", "sample_steps": "50"})
    twenty = resolved({"sampler": "ddim", "sample_steps": "20"})
    full = resolved({})
    assert len({fifty.run_id, twenty.run_id, full.run_id}) == 3
    assert full.model_args["sampler"] == "ancestral" and full.model_args["sample_steps"] == 1000
