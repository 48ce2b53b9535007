"""The ``syndiff`` model and its blocks against the authors' code (icon-lab/SynDiff at 8e5064e).

Golden numbers were produced outside this repository by running the authors' classes and
functions on the CPU (their CUDA ops stubbed so the native upfirdn2d path runs): parameter counts
of the eight networks built with the published arguments, the diffusion coefficients of
``train.py`` (T = 4, β from 0.1 to 20), and FIR resampling by ``up_or_down_sampling.py``.
"""

from __future__ import annotations

import dataclasses
import io
import math

import pytest
import torch

from medganbench.core.manager import Registries
from medganbench.core.model import Model, ModelContext, TrainBatch
from medganbench.errors import UsageError
from medganbench.run.flops import PROBE_DATASET
from medganbench_plugins.models.syndiff import SynDiff
from medganbench_plugins.nn.ddgan import DDGANSchedule
from medganbench_plugins.nn.diffusion_discriminator import DiffusionDiscriminator, block_count
from medganbench_plugins.nn.discriminators import PatchDiscriminator
from medganbench_plugins.nn.fir import (
    FirDownConv,
    downsample_2d,
    fir_kernel,
    upfirdn2d,
    upsample_2d,
)
from medganbench_plugins.nn.generators import ResnetGenerator
from medganbench_plugins.nn.ncsnpp import NCSNpp
from medganbench_plugins.nn.variance_scaling import fan_avg_init_, fan_out_init_

#: Narrow networks with every kind of block (attention at 16 px, up/down blocks, pyramid).
NARROW = {
    "num_channels_dae": "16",
    "ch_mult": "1,2",
    "nz": "8",
    "z_emb_dim": "16",
    "n_mlp": "1",
    "ngf": "8",
    "t_emb_dim": "16",
    "cycle_ngf": "8",
    "cycle_ndf": "8",
    "cycle_blocks": "1",
}

#: Parameters of the authors' networks with the published arguments (one-channel contrasts:
#: NCSNpp num_channels 2, Discriminator_large nc 2, define_G resnet_6blocks, define_D basic).
GOLDEN_256 = {
    "diffusive_g": 39_725_250,
    "resnet_g": 7_825_153,
    "diffusive_d": 27_736_705,
    "patch_d": 2_762_689,
}
GOLDEN_64 = {
    "diffusive_g": 39_133_122,
    "resnet_g": 7_825_153,
    "diffusive_d": 27_736_705,
    "patch_d": 2_762_689,
}


def _build(
    registries: Registries,
    args: dict[str, str],
    size: int = 32,
    seed: int = 0,
    channels: tuple[int, int] = (1, 1),
    **ctx: bool,
) -> Model:
    a = dataclasses.replace(PROBE_DATASET.a, channels=channels[0])
    b = dataclasses.replace(PROBE_DATASET.b, channels=channels[1])
    info = dataclasses.replace(PROBE_DATASET, a=a, b=b, image_size=size)
    torch.manual_seed(seed)
    return registries.models.get("syndiff").build(
        args, ModelContext(size, info, torch.device("cpu"), seed, **ctx)
    )


def _batch(seed: int, n: int = 2, size: int = 32, channels: tuple[int, int] = (1, 1)) -> TrainBatch:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, channels[0], size, size, generator=g) * 2 - 1
    b = torch.rand(n, channels[1], size, size, generator=g) * 2 - 1
    return TrainBatch(a, b, a[:, :1] > 0, b[:, :1] > 0, False)


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ---- the authors' architecture -----------------------------------------------------------------


@pytest.mark.parametrize(("size", "golden"), [(256, GOLDEN_256), (64, GOLDEN_64)])
def test_networks_have_the_authors_parameter_counts(size: int, golden: dict[str, int]) -> None:
    found = {
        "diffusive_g": _count(NCSNpp(size, 2, 2)),
        "resnet_g": _count(ResnetGenerator(1, 1, 64, 6, "instance", 7)),
        "diffusive_d": _count(DiffusionDiscriminator(size, 2)),
        "patch_d": _count(PatchDiscriminator(1, 64, 3)),
    }
    assert found == golden


@pytest.mark.slow  # builds the published widths (155 M parameters): about 3 s
def test_model_counts_its_eight_networks_not_the_averages(registries: Registries) -> None:
    model = _build(registries, {}, size=64)
    assert model.parameter_count() == 2 * sum(GOLDEN_64.values())  # 154,915,338
    modules = model.trained_modules()
    assert set(modules) == {
        "g_ab",
        "g_ba",
        "f_ab",
        "f_ba",
        "d_a",
        "d_b",
        "c_a",
        "c_b",
        "ema_ab",
        "ema_ba",
    }
    assert _count(modules["ema_ab"]) == GOLDEN_64["diffusive_g"]


def test_discriminator_keeps_six_blocks_from_64_px_and_drops_one_at_32() -> None:
    assert [block_count(s) for s in (32, 64, 128, 256)] == [5, 6, 6, 6]
    x = torch.randn(3, 1, 32, 32)  # 3 images: the deviation groups fall back to 3
    assert DiffusionDiscriminator(32, 2, ngf=4, t_emb_dim=8)(
        x, torch.tensor([0, 1, 3]), x
    ).shape == (3, 1)


def test_sizes_the_generator_cannot_halve_are_refused(registries: Registries) -> None:
    with pytest.raises(UsageError, match="ch_mult"):
        _build(registries, {**NARROW, "ch_mult": "1,1,1,1,1,1"}, size=48)
    with pytest.raises(UsageError, match="at least 32"):
        _build(registries, NARROW, size=16)


# ---- blocks -------------------------------------------------------------------------------------


def test_fir_resampling_equals_the_authors_values() -> None:
    x = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    assert downsample_2d(x).flatten().tolist() == pytest.approx([2.734375, 3.9375, 7.546875, 8.75])
    y = torch.tensor([[1.0, -2.0], [0.5, 3.0]]).view(1, 1, 2, 2)
    up = [0.5625, 0.1875, -0.9375, -1.125, 0.65625, 0.46875, -0.34375, -0.5625]
    up += [0.46875, 0.90625, 1.46875, 1.3125, 0.28125, 0.84375, 1.78125, 1.6875]
    assert upsample_2d(y).flatten().tolist() == pytest.approx(up, abs=1e-6)
    conv = FirDownConv(1, 2)
    with torch.no_grad():
        conv.conv.weight.copy_(torch.arange(18, dtype=torch.float32).view(2, 1, 3, 3) / 10)
        golden = [
            15.720312,
            17.351562,
            21.270313,
            21.064062,
            39.767189,
            47.009377,
            67.76094,
            73.165627,
        ]
        assert conv(x).flatten().tolist() == pytest.approx(golden, rel=1e-6)


def test_transposed_convolution_upsampling_equals_zero_insertion_upfirdn2d() -> None:
    x = torch.randn(2, 3, 5, 7)
    taps = (1.0, 2.0, 5.0, 1.0)  # asymmetric, so a flipped kernel would show
    expected = upfirdn2d(x, fir_kernel(taps, 4.0), up=2, pad=(2, 1))
    torch.testing.assert_close(upsample_2d(x, taps), expected, atol=1e-6, rtol=1e-6)


def test_variance_scaling_rules_bound_the_weights() -> None:
    torch.manual_seed(0)
    conv = fan_avg_init_(torch.nn.Conv2d(20, 40, 3))
    bound = math.sqrt(3.0 / ((20 * 9 + 40 * 9) / 2))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.95 * bound
    dense = fan_out_init_(torch.nn.Linear(500, 50))  # fan_out 50, whatever fan_in is
    assert dense.weight.abs().max() <= math.sqrt(
        3.0 / 50
    ) and dense.weight.abs().max() > 0.95 * math.sqrt(3.0 / 50)
    assert float(dense.bias.detach().abs().max()) == 0.0
    tiny = fan_avg_init_(torch.nn.Linear(10, 10), scale=0.0)
    assert 0 < float(tiny.weight.detach().abs().max()) <= math.sqrt(3e-10 / 10)


def test_adaptive_group_norm_starts_as_plain_group_norm() -> None:
    block = NCSNpp(32, 2, 2, nf=16, ch_mult=(1, 2), nz=8, z_emb_dim=16, n_mlp=1).down[0][0].block
    style = block.norm0.style
    channels = style.out_features // 2
    assert style.bias[:channels].tolist() == [1.0] * channels
    assert style.bias[channels:].tolist() == [0.0] * channels


# ---- the diffusion -----------------------------------------------------------------------------

#: train.py's Diffusion_Coefficients and Posterior_Coefficients at T = 4, β 0.1 … 20.
A_S = [1.0, 0.7223190069198608, 0.38832199573516846, 0.20876379311084747, 0.11223222315311432]
SIGMAS = [
    1.0000000474974513e-4,
    0.6915600299835205,
    0.9215237498283386,
    0.9779661297798157,
    0.9936819672584534,
]
A_S_CUM = [1.0, 0.7223190069198608, 0.28049236536026, 0.05855664983391762, 0.006571942940354347]
SIGMAS_CUM = [0.0, 0.6915600299835205, 0.9598562717437744, 0.998284101486206, 0.9999783635139465]
MEAN_X0 = [1.0000001192092896, 0.6657784581184387, 0.26919084787368774, 0.05782156065106392]
MEAN_XT = [0.0, 0.20157626271247864, 0.19300086796283722, 0.11185222864151001]
LOG_VAR = [-46.051700592041016, -0.8191205859184265, -0.12306925654411316, -0.016067631542682648]


def test_schedule_equals_the_authors_coefficients() -> None:
    s = DDGANSchedule.build(4, 0.1, 20.0)
    for found, golden in [
        (s.a_s, A_S),
        (s.sigmas, SIGMAS),
        (s.a_s_cum, A_S_CUM),
        (s.sigmas_cum, SIGMAS_CUM),
        (s.mean_x0, MEAN_X0),
        (s.mean_xt, MEAN_XT),
        (s.log_var, LOG_VAR),
    ]:
        assert found.tolist() == pytest.approx(golden, rel=1e-6, abs=1e-7)


def test_forward_pairs_follow_the_coefficients() -> None:
    s = DDGANSchedule.build(4, 0.1, 20.0)
    x0 = torch.tensor([0.5, -0.25, 0.75, 0.1]).view(4, 1, 1, 1)
    t = torch.tensor([0, 1, 2, 3])
    x_t, x_tp1 = s.q_sample_pairs(x0, t, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    step_noise, noise = torch.randn(4, generator=g), torch.randn(4, generator=g)
    want_t = [A_S_CUM[i] * float(x0[i]) + SIGMAS_CUM[i] * float(noise[i]) for i in range(4)]
    want_tp1 = [A_S[i + 1] * want_t[i] + SIGMAS[i + 1] * float(step_noise[i]) for i in range(4)]
    assert x_t.flatten().tolist() == pytest.approx(want_t, rel=1e-5)
    assert x_tp1.flatten().tolist() == pytest.approx(want_tp1, rel=1e-5)


def test_posterior_step_adds_noise_except_at_t_0() -> None:
    s = DDGANSchedule.build(4, 0.1, 20.0)
    x0 = torch.tensor([0.5, -0.25, 0.75, 0.1]).view(4, 1, 1, 1)
    x_tp1 = torch.tensor([0.3, 0.9, -1.2, 0.4]).view(4, 1, 1, 1)
    noise = torch.tensor([1.5, -0.5, 0.25, 2.0]).view(4, 1, 1, 1)
    out = s.posterior_sample(x0, x_tp1, torch.tensor([0, 1, 2, 3]), noise).flatten().tolist()
    want = [
        MEAN_X0[i] * float(x0[i])
        + MEAN_XT[i] * float(x_tp1[i])
        + (i > 0) * math.exp(0.5 * LOG_VAR[i]) * float(noise[i])
        for i in range(4)
    ]
    assert out == pytest.approx(want, rel=1e-6)
    assert out[0] == pytest.approx(0.5, rel=1e-6)  # the last reverse step returns x̂_0


# ---- the model ---------------------------------------------------------------------------------


def test_translates_both_ways_into_the_target_channels(registries: Registries) -> None:
    model = _build(registries, NARROW, channels=(1, 2))
    batch = _batch(0, channels=(1, 2))
    model.train_step(batch)
    model.eval_mode()
    with torch.no_grad():
        to_b, to_a = model.translate(batch.a, "a2b"), model.translate(batch.b, "b2a")
    assert to_b.shape == (2, 2, 32, 32) and to_a.shape == (2, 1, 32, 32)
    for out in (to_b, to_a):
        assert out.dtype == torch.float32 and out.abs().max() <= 1.0 and out.std() > 0
    assert model.eval_directions == ("a2b", "b2a", "a2b2a", "b2a2b")


def test_translation_of_an_image_does_not_depend_on_its_batch(registries: Registries) -> None:
    model = _build(registries, NARROW)
    model.eval_mode()
    x = _batch(1, n=3).a
    with torch.no_grad():
        together = model.translate(x)
        alone = model.translate(x[1:2])
    torch.testing.assert_close(alone, together[1:2])


def test_a_training_step_changes_every_network_and_gives_finite_losses(
    registries: Registries,
) -> None:
    model = _build(registries, NARROW)
    before = {
        name: [p.detach().clone() for p in m.parameters()]
        for name, m in model.trained_modules().items()
    }
    losses = model.train_step(_batch(2))
    assert set(losses) == {
        "d_real",
        "d_fake",
        "r1",
        "d_cycle",
        "g_adv",
        "g_cycle_adv",
        "l1_diffusive",
        "cycle",
    }
    assert all(math.isfinite(float(v)) for v in losses.values())
    assert float(losses["r1"]) > 0  # step 0 is a lazy-regularisation step
    for name, module in model.trained_modules().items():
        changed = any(
            not torch.equal(a, p) for a, p in zip(before[name], module.parameters(), strict=True)
        )
        assert changed, name


def test_moving_average_starts_at_the_first_update_then_decays(registries: Registries) -> None:
    model = _build(registries, {**NARROW, "ema_decay": "0.9"})
    model.train_step(_batch(3))
    ema, net = model.trained_modules()["ema_ab"], model.trained_modules()["g_ab"]
    for avg, p in zip(ema.parameters(), net.parameters(), strict=True):
        assert torch.equal(avg, p)
    first = [p.detach().clone() for p in net.parameters()]
    model.train_step(_batch(4))
    for avg, old, new in zip(ema.parameters(), first, net.parameters(), strict=True):
        torch.testing.assert_close(avg, 0.9 * old + 0.1 * new.detach())
    assert model.inference_modules()["g_ab"] is ema


def test_trains_and_translates_under_bf16_autocast(registries: Registries) -> None:
    """The CUDA code path (bf16 autocast, channels-last asked for), exercised on the CPU."""
    model = _build(registries, NARROW, amp=True, channels_last=True)
    losses = model.train_step(_batch(5))
    assert all(math.isfinite(float(v)) for v in losses.values())
    model.eval_mode()
    with torch.no_grad():
        out = model.translate(_batch(6).b, "b2a")
    assert out.dtype == torch.float32 and out.shape == (2, 1, 32, 32)


def test_cosine_schedule_reaches_the_optimizers(registries: Registries) -> None:
    model = _build(registries, NARROW)
    assert isinstance(model, SynDiff)
    model.set_progress(0.5)
    assert model.opt_g.param_groups[0]["lr"] == pytest.approx(1e-5 + (1.6e-4 - 1e-5) / 2)
    assert model.opt_d.param_groups[0]["lr"] == pytest.approx(1e-5 + (1e-4 - 1e-5) / 2)


@pytest.mark.slow  # five training steps: about 2 s
def test_resume_from_a_checkpoint_is_exact(registries: Registries) -> None:
    args = {**NARROW, "lazy_reg": "2"}  # the resumed steps 1 and 2 include an R1 step
    first = _build(registries, args)
    first.train_step(_batch(10, n=1))
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    expected = [first.train_step(_batch(12 + step, n=1)) for step in range(2)]
    buffer.seek(0)
    resumed = _build(registries, args, seed=7)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    got = [resumed.train_step(_batch(12 + step, n=1)) for step in range(2)]
    assert [{k: float(v) for k, v in losses.items()} for losses in got] == [
        {k: float(v) for k, v in losses.items()} for losses in expected
    ]
    for name, module in first.trained_modules().items():
        for (key, a), b in zip(
            module.state_dict().items(),
            resumed.trained_modules()[name].state_dict().values(),
            strict=True,
        ):
            assert torch.equal(a, b), f"{name}.{key}"
