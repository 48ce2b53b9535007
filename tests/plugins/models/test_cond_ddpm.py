"""cond-ddpm: the source image conditions the denoiser by channel concatenation (Palette/SR3)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from medganbench.core.manager import Registries
from medganbench.core.model import ModelContext, TrainBatch
from medganbench.errors import UsageError
from medganbench.run.flops import PROBE_DATASET
from medganbench_plugins.models.cond_ddpm import CondDDPM
from medganbench_plugins.nn.diffusion import LinearSchedule, image_generators

SMALL = {"ch": "32", "sample_steps": "3", "batch_size": "2"}


def _build(registries: Registries, **args: str) -> CondDDPM:
    spec = registries.models.get("cond-ddpm")
    info = dataclasses.replace(PROBE_DATASET, image_size=32)
    model = spec.build({**SMALL, **args}, ModelContext(32, info, torch.device("cpu"), 0))
    assert isinstance(model, CondDDPM)
    return model


def _pair(seed: int = 0) -> TrainBatch:
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return TrainBatch(x, -x, x > 0, x > 0, True)


def test_palette_defaults(registries: Registries) -> None:
    defaults = {p.name: p.default for p in registries.models.get("cond-ddpm").params}
    assert (defaults["timesteps"], defaults["beta_start"], defaults["beta_end"]) == (
        2000,
        1e-6,
        0.01,
    )
    assert (defaults["lr"], defaults["loss"], defaults["ema_decay"]) == (1e-4, "l2", 0.9999)
    assert (defaults["sampler"], defaults["eta"], defaults["timestep_spacing"]) == (
        "ddim",
        0.0,
        "leading",
    )


def test_the_denoiser_takes_target_and_source_channels(registries: Registries) -> None:
    model = _build(registries)
    # x_t (1 channel) and the source (1 channel) in, the noise of the target (1 channel) out.
    assert model.net.conv_in.weight.shape[1] == 2
    assert model.net.conv_out.weight.shape[0] == 1


def test_at_64_px_the_default_network_has_ho_et_al_widths(registries: Registries) -> None:
    spec = registries.models.get("cond-ddpm")
    info = dataclasses.replace(PROBE_DATASET, image_size=64)
    model = spec.build({}, ModelContext(64, info, torch.device("cpu"), 0))
    # Ho et al.'s CIFAR-10 U-Net (35,741,697 at one channel) plus the source's 3×3×128 weights.
    assert model.parameter_count() == 35_741_697 + 9 * 128


def test_the_translation_depends_on_the_source(registries: Registries) -> None:
    model = _build(registries)
    for step in range(3):
        model.train_step(_pair(step))
    model.eval_mode()
    source = _pair(5).a
    one = model.translate(source)
    other = model.translate(source.flip(-1))
    assert one.shape == source.shape and not torch.equal(one, other)
    assert one.min() >= -1.0 and one.max() <= 1.0


def test_a_translation_depends_on_its_image_alone(registries: Registries) -> None:
    model = _build(registries, eta="1.0")  # noise at every step, not only x_T
    model.train_step(_pair())
    model.eval_mode()
    source = _pair(1).a
    together = model.translate(source)
    torch.manual_seed(123)  # the global generator plays no part
    alone = torch.cat([model.translate(source[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)
    assert not torch.equal(together[0], together[1])


def test_each_images_generator_is_seeded_by_its_pixels() -> None:
    image = torch.linspace(-1, 1, 16).view(1, 4, 4)
    same, copy, flipped = image_generators(torch.stack([image, image.clone(), image.flip(-1)]))
    assert same.initial_seed() == copy.initial_seed() != flipped.initial_seed()
    assert 0 <= same.initial_seed() < 2**63


def test_eta_above_zero_draws_noise_at_every_ddim_step(registries: Registries) -> None:
    source = _pair(1).a
    outputs = []
    for eta in ("0.0", "1.0"):
        model = _build(registries, eta=eta)
        model.eval_mode()
        outputs.append(model.translate(source))
    assert not torch.equal(*outputs)


def test_warm_up_is_a_fraction_of_the_budget(registries: Registries) -> None:
    model = _build(registries, lr_warmup="0.1")
    model.set_progress(0.05)
    assert model.warmup_factor() == pytest.approx(0.5)
    model.set_progress(0.5)
    assert model.warmup_factor() == 1.0


def test_sampling_steps_are_the_samplers(registries: Registries) -> None:
    assert _build(registries, sample_steps="7").sampling_steps == 7
    ancestral = _build(registries, sampler="ancestral", sample_steps="20", timesteps="20")
    assert ancestral.sampling_steps == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"sampler": "ancestral"}, "sample_steps must be 2000"),
        ({"sampler": "dpm-solver++", "eta": "0.5"}, "eta=0.5 applies to sampler=ddim only"),
        ({"sampler": "dpm-solver++", "ddim_clip": "true"}, "ddim_clip applies to sampler=ddim"),
        ({"sampler": "dpm-solver++", "timesteps": "10", "sample_steps": "10"}, "at most"),
        ({"sample_steps": "3000"}, "between 1 and timesteps=2000"),
    ],
)
def test_a_sampler_that_does_not_fit_is_refused(
    registries: Registries, args: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        _build(registries, **args)


def test_l1_and_l2_losses_differ(registries: Registries) -> None:
    losses = [_build(registries, loss=norm).train_step(_pair())["loss"] for norm in ("l2", "l1")]
    assert losses[0] != pytest.approx(losses[1])


def test_palette_schedule_ends_near_pure_noise() -> None:
    schedule = LinearSchedule(2000, 1e-6, 0.01)
    # Σβ = 2000·(1e-6 + 0.01)/2 ≈ 10.001, so ᾱ_T ≈ exp(−10.03) ≈ 4.4e-5.
    assert schedule.alphas_cumprod[-1].item() == pytest.approx(4.4e-5, rel=0.05)


def test_sampler_and_its_settings_are_part_of_the_run_identity(registries: Registries) -> None:
    from medganbench.run.spec import RunSpec, resolve_run

    def run_id(args: dict[str, str]) -> str:
        return resolve_run(RunSpec(model="cond-ddpm", model_args=args), registries).run_id

    variants = [
        {},
        {"sampler": "dpm-solver++"},
        {"sample_steps": "20"},
        {"timestep_spacing": "trailing"},
        {"eta": "1.0"},
        {"ddim_clip": "true"},
    ]
    assert len({run_id(v) for v in variants}) == len(variants)
