"""The neural-network building blocks: norms, generators, discriminator, losses, pool, training helpers.

References are PyTorch's own implementations (``F.instance_norm``, ``F.group_norm``,
``F.batch_norm``, ``nn.BatchNorm2d``) and published parameter counts (CycleGAN's ResNet-9,
pix2pix's U-Net-256 and 70×70 PatchGAN). Everything runs on the CPU with small tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from medganbench.errors import UsageError
from medganbench_plugins.nn.discriminators import PatchDiscriminator
from medganbench_plugins.nn.gan_losses import (
    WGAN_GP_WEIGHT,
    adversarial_loss,
    gradient_penalty,
)
from medganbench_plugins.nn.generators import ResnetGenerator, UnetGenerator, unet_depth
from medganbench_plugins.nn.image_pool import ImagePool
from medganbench_plugins.nn.norms import SwitchableNorm2d, make_norm, switchable_norm
from medganbench_plugins.nn.training import (
    autocast,
    count_parameters,
    linear_decay,
    make_optimizer,
    set_lr,
    set_requires_grad,
)
from tests.plugins.models.switchable_composite import composite_switchable_norm

EPS = 1e-3  # a non-default epsilon, so a norm that ignores its eps cannot match the reference
SHAPE = (4, 8, 6, 6)
# Logits that make softmax one-hot to within e^-50 ≈ 2e-22 (order IN, LN, BN).
ONE_HOT = {"in": [50.0, 0.0, 0.0], "ln": [0.0, 50.0, 0.0], "bn": [0.0, 0.0, 50.0]}


@pytest.fixture(autouse=True)
def _seed() -> Iterator[None]:
    torch.manual_seed(0)
    yield


def _one_hot_norm(kind: str, channels: int = SHAPE[1]) -> SwitchableNorm2d:
    norm = SwitchableNorm2d(channels, eps=EPS)
    with torch.no_grad():
        norm.mean_weight.copy_(torch.tensor(ONE_HOT[kind]))
        norm.var_weight.copy_(torch.tensor(ONE_HOT[kind]))
    return norm


def _batch(shape: tuple[int, ...] = SHAPE) -> torch.Tensor:
    # Non-zero mean and non-unit scale, so both the centring and the scaling are exercised.
    return torch.randn(shape) * 3.0 + 1.5


# --- SwitchableNorm2d -------------------------------------------------------------------------


def test_switchable_norm_instance_one_hot_matches_instance_norm() -> None:
    x = _batch()
    y = _one_hot_norm("in")(x)
    torch.testing.assert_close(y, F.instance_norm(x, eps=EPS), atol=1e-5, rtol=0)


def test_switchable_norm_layer_one_hot_matches_group_norm_with_one_group() -> None:
    x = _batch()
    y = _one_hot_norm("ln")(x)
    torch.testing.assert_close(y, F.group_norm(x, 1, eps=EPS), atol=1e-5, rtol=0)


def test_switchable_norm_batch_one_hot_in_training_matches_batch_norm() -> None:
    x = _batch()
    y = _one_hot_norm("bn").train()(x)
    expected = F.batch_norm(x, None, None, training=True, eps=EPS)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)


def test_switchable_norm_running_stats_follow_batch_norm2d() -> None:
    norm = SwitchableNorm2d(SHAPE[1], eps=EPS, momentum=0.1).train()
    reference = nn.BatchNorm2d(SHAPE[1], eps=EPS, momentum=0.1).train()
    for _ in range(3):  # several steps, so the exponential averaging itself is checked
        x = _batch()
        norm(x)
        reference(x)
    torch.testing.assert_close(norm.running_mean, reference.running_mean, atol=1e-5, rtol=0)
    torch.testing.assert_close(norm.running_var, reference.running_var, atol=1e-5, rtol=0)


def test_switchable_norm_batch_one_hot_in_eval_uses_running_stats() -> None:
    norm = _one_hot_norm("bn")
    running_mean = torch.randn(SHAPE[1])
    running_var = torch.rand(SHAPE[1]) * 4.0 + 0.5
    norm.running_mean.copy_(running_mean)
    norm.running_var.copy_(running_var)
    x = _batch()
    y = norm.eval()(x)
    expected = F.batch_norm(x, running_mean, running_var, training=False, eps=EPS)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)


def test_switchable_norm_eval_does_not_update_running_stats() -> None:
    norm = SwitchableNorm2d(SHAPE[1]).eval()
    norm(_batch())
    assert torch.equal(norm.running_mean, torch.zeros(SHAPE[1]))
    assert torch.equal(norm.running_var, torch.ones(SHAPE[1]))


def test_switchable_norm_mixing_weights_are_softmax_of_logits() -> None:
    norm = SwitchableNorm2d(SHAPE[1])
    with torch.no_grad():
        norm.mean_weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
        norm.var_weight.copy_(torch.tensor([0.0, 0.0, math.log(2.0)]))
    mean_w, var_w = (t.detach() for t in norm.mixing_weights())
    e = math.e
    golden_mean = torch.tensor([1.0, e, e * e]) / (1.0 + e + e * e)
    torch.testing.assert_close(mean_w, golden_mean, atol=1e-6, rtol=0)
    torch.testing.assert_close(var_w, torch.tensor([0.25, 0.25, 0.5]), atol=1e-6, rtol=0)
    assert float(mean_w.sum()) == pytest.approx(1.0, abs=1e-6)
    assert float(var_w.sum()) == pytest.approx(1.0, abs=1e-6)


def test_switchable_norm_default_mixing_weights_are_uniform() -> None:
    mean_w, var_w = SwitchableNorm2d(SHAPE[1]).mixing_weights()
    third = torch.full((3,), 1.0 / 3.0)
    torch.testing.assert_close(mean_w, third, atol=1e-7, rtol=0)
    torch.testing.assert_close(var_w, third, atol=1e-7, rtol=0)


def test_switchable_norm_gradients_reach_every_parameter() -> None:
    norm = SwitchableNorm2d(SHAPE[1]).train()
    x, target = _batch(), torch.randn(SHAPE)
    ((norm(x) - target) ** 2).mean().backward()
    for name in ("mean_weight", "var_weight", "weight", "bias"):
        grad = getattr(norm, name).grad
        assert grad is not None, name
        assert torch.isfinite(grad).all(), name
        assert float(grad.abs().sum()) > 0.0, name


def test_switchable_norm_under_bf16_autocast_returns_finite_bf16() -> None:
    norm = SwitchableNorm2d(SHAPE[1]).train()
    x = _batch().to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = norm(x)
    assert y.dtype == torch.bfloat16
    assert torch.isfinite(y).all()
    # Statistics are float32 inside; only the final rounding to bf16 (2^-8 relative) differs.
    reference = SwitchableNorm2d(SHAPE[1]).train()(x.float())
    torch.testing.assert_close(y.float(), reference, atol=2e-2, rtol=1e-2)


def test_switchable_norm_eval_output_is_independent_of_the_batch() -> None:
    norm = SwitchableNorm2d(SHAPE[1]).train()
    norm(_batch())  # non-trivial running statistics
    norm.eval()
    x = _batch()
    alone = norm(x[:1])
    in_batch = norm(x)[:1]
    torch.testing.assert_close(alone, in_batch, atol=1e-5, rtol=0)


def _random_switchable_norm(channels: int, training: bool) -> SwitchableNorm2d:
    norm = SwitchableNorm2d(channels, eps=EPS).double().train(training)
    with torch.no_grad():  # every parameter and statistic away from its neutral initial value
        norm.weight.normal_(1.0, 0.5)
        norm.bias.normal_()
        norm.mean_weight.normal_()
        norm.var_weight.normal_()
        norm.running_mean.normal_()
        norm.running_var.uniform_(0.5, 2.0)
    return norm


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("batch", [1, 3])
def test_switchable_norm_gradients_match_autograd_of_the_composite(
    training: bool, batch: int
) -> None:
    norm = _random_switchable_norm(SHAPE[1], training)
    x = (_batch((batch, *SHAPE[1:])).double()).requires_grad_()
    upstream = torch.randn(batch, *SHAPE[1:], dtype=torch.float64)
    inputs = (x, norm.weight, norm.bias, norm.mean_weight, norm.var_weight)
    expected_y = composite_switchable_norm(x, norm, training)
    expected = torch.autograd.grad(expected_y, inputs, upstream)
    y = norm(x)
    got = torch.autograd.grad(y, inputs, upstream)
    names = ("x", "weight", "bias", "mean_weight", "var_weight")
    torch.testing.assert_close(y, expected_y, atol=1e-12, rtol=1e-12)
    for name, g, e in zip(names, got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-11, rtol=1e-10, msg=name)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_switchable_norm_passes_gradcheck_and_gradgradcheck(training: bool) -> None:
    norm = _random_switchable_norm(3, training)
    x = _batch((2, 3, 3, 4)).double().requires_grad_()
    mean_mix, var_mix = (t.detach().requires_grad_() for t in norm.mixing_weights())
    running = None if training else (norm.running_mean, norm.running_var)

    def y_of(*args: torch.Tensor) -> torch.Tensor:
        return switchable_norm(*args[:3], *args[3:], norm.eps, running)[0]

    inputs = (x, norm.weight, norm.bias, mean_mix, var_mix)
    assert torch.autograd.gradcheck(y_of, inputs)
    assert torch.autograd.gradgradcheck(y_of, inputs)


def test_switchable_norm_gradient_penalty_matches_the_composite() -> None:
    # The penalty differentiates a gradient, so the norm's backward must itself be differentiable.
    norm = _random_switchable_norm(SHAPE[1], True)
    x = _batch().double().requires_grad_()

    def penalty(forward: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, ...]:
        (grad_x,) = torch.autograd.grad(forward(x).square().sum(), x, create_graph=True)
        return torch.autograd.grad(grad_x.square().sum(), (x, norm.weight, norm.mean_weight))

    expected = penalty(lambda t: composite_switchable_norm(t, norm, True))
    for g, e in zip(penalty(norm), expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-9, rtol=1e-9)


def test_switchable_norm_bf16_gradients_follow_the_float32_ones() -> None:
    norm = SwitchableNorm2d(SHAPE[1], eps=EPS).train()
    x = _batch()
    upstream = torch.randn(SHAPE)
    x16 = x.to(torch.bfloat16).requires_grad_()
    (g16,) = torch.autograd.grad(norm(x16), x16, upstream.to(torch.bfloat16))
    x32 = x16.detach().float().requires_grad_()
    (g32,) = torch.autograd.grad(norm(x32), x32, upstream.to(torch.bfloat16).float())
    assert g16.dtype == torch.bfloat16
    # Statistics are float32 either way; only the final rounding to bf16 (2^-8) differs.
    torch.testing.assert_close(g16.float(), g32, atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("shape", [(8, 6), (2, 8, 6), (1, 2, 8, 6, 6)])
def test_switchable_norm_rejects_non_4d_input(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expects"):
        SwitchableNorm2d(8)(torch.randn(shape))


# --- make_norm --------------------------------------------------------------------------------


def test_make_norm_switchable() -> None:
    norm = make_norm("switchable", 5, eps=EPS)
    assert isinstance(norm, SwitchableNorm2d)
    assert norm.num_features == 5 and norm.eps == EPS


def test_make_norm_instance_is_affine_free() -> None:
    norm = make_norm("instance", 5, eps=EPS)
    assert isinstance(norm, nn.InstanceNorm2d)
    assert not norm.affine and not norm.track_running_stats
    assert norm.num_features == 5 and norm.eps == EPS


def test_make_norm_batch() -> None:
    norm = make_norm("batch", 5, eps=EPS)
    assert type(norm) is nn.BatchNorm2d
    assert norm.num_features == 5 and norm.eps == EPS


def test_make_norm_layer_is_group_norm_with_one_group() -> None:
    norm = make_norm("layer", 5, eps=EPS)
    assert isinstance(norm, nn.GroupNorm)
    assert norm.num_groups == 1 and norm.num_channels == 5 and norm.eps == EPS


def test_make_norm_unknown_name_lists_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="switchable, instance, batch, layer"):
        make_norm("spectral", 5)


# --- generators and discriminator -------------------------------------------------------------


def test_resnet_generator_single_channel_parameter_count() -> None:
    with torch.device("meta"):  # no weight initialisation: counting only
        net = ResnetGenerator(1, 1, ngf=64, n_blocks=9, norm="instance", stem_kernel=7)
    assert count_parameters([net]) == 11_365_633


def test_resnet_generator_matches_cyclegan_resnet9_parameter_count() -> None:
    with torch.device("meta"):
        net = ResnetGenerator(3, 3, ngf=64, n_blocks=9, norm="instance", stem_kernel=7)
    assert count_parameters([net]) == 11_378_179


def test_unet_generator_matches_pix2pix_unet256_parameter_count() -> None:
    with torch.device("meta"):
        net = UnetGenerator(3, 3, depth=8, ngf=64, norm="batch")
    assert count_parameters([net]) == 54_413_955


def test_patch_discriminator_matches_pix2pix_parameter_count() -> None:
    with torch.device("meta"):
        net = PatchDiscriminator(3, 64, 3, "batch")
    assert count_parameters([net]) == 2_765_633


def test_patch_discriminator_maps_256_px_to_30x30_logits() -> None:
    net = PatchDiscriminator(3, 64, 3, "batch").eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 256, 256))
    assert out.shape == (1, 1, 30, 30)


@pytest.mark.parametrize("size", [32, 64, 96])
def test_resnet_generator_preserves_size_with_tanh_range(size: int) -> None:
    net = ResnetGenerator(1, 2, ngf=8, n_blocks=1)
    with torch.no_grad():
        out = net(torch.randn(2, 1, size, size) * 5.0)
    assert out.shape == (2, 2, size, size)
    assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("size", [32, 64, 96])
def test_unet_generator_preserves_size_with_tanh_range(size: int) -> None:
    net = UnetGenerator(1, 2, depth=unet_depth(size), ngf=8)
    with torch.no_grad():
        out = net(torch.randn(2, 1, size, size) * 5.0)
    assert out.shape == (2, 2, size, size)
    assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize(("size", "depth"), [(256, 8), (512, 8), (64, 6), (32, 5), (96, 5)])
def test_unet_depth(size: int, depth: int) -> None:
    assert unet_depth(size) == depth


def test_unet_depth_rejects_sizes_not_divisible_by_32() -> None:
    with pytest.raises(UsageError, match="divisible by 32"):
        unet_depth(48)


def test_unet_generator_rejects_depth_below_5() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        UnetGenerator(1, 1, depth=4, ngf=8)


def test_resnet_check_size_rejects_non_multiple_of_4() -> None:
    with pytest.raises(UsageError, match="divisible by 4"):
        ResnetGenerator.check_size(30)


def test_resnet_check_size_accepts_multiple_of_4() -> None:
    ResnetGenerator.check_size(32)


def test_resnet_generator_rejects_even_stem_kernel() -> None:
    with pytest.raises(UsageError, match="must be odd"):
        ResnetGenerator(1, 1, ngf=8, n_blocks=1, stem_kernel=6)


@pytest.mark.parametrize(
    ("norm", "has_bias"),
    [("instance", True), ("batch", False), ("layer", False), ("switchable", False)],
)
def test_resnet_stem_conv_has_bias_only_without_a_shifting_norm(norm: str, has_bias: bool) -> None:
    net = ResnetGenerator(1, 1, ngf=8, n_blocks=1, norm=norm)
    first_conv = next(m for m in net.model if isinstance(m, nn.Conv2d))
    assert (first_conv.bias is not None) is has_bias


# --- adversarial losses -----------------------------------------------------------------------


def test_hinge_d_loss_golden() -> None:
    loss = adversarial_loss("hinge")
    # mean(relu(1 - [2, 0.5])) + mean(relu(1 + [-2, 0.5])) = 0.25 + 0.75
    value = loss.d_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5]))
    assert float(value) == 1.0


def test_hinge_g_loss_golden() -> None:
    # mean(relu(1 - [0.5, 2])) = mean([0.5, 0])
    assert float(adversarial_loss("hinge").g_loss(torch.tensor([0.5, 2.0]))) == 0.25


def test_lsgan_losses_golden() -> None:
    loss = adversarial_loss("lsgan")
    ones, zeros = torch.ones(3), torch.zeros(3)
    assert float(loss.d_loss(ones, zeros)) == 0.0
    assert float(loss.g_loss(ones)) == 0.0
    assert float(loss.d_loss(zeros, ones)) == 1.0  # 0.5 * (1 + 1)


def test_bce_losses_at_zero_logits_are_log_2() -> None:
    loss = adversarial_loss("bce")
    zeros = torch.zeros(3)
    assert float(loss.d_loss(zeros, zeros)) == pytest.approx(math.log(2.0), abs=1e-6)
    assert float(loss.g_loss(zeros)) == pytest.approx(math.log(2.0), abs=1e-6)


def test_wgan_gp_losses_golden() -> None:
    loss = adversarial_loss("wgan-gp")
    assert float(loss.d_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]))) == -2.0
    assert float(loss.g_loss(torch.tensor([1.0, 3.0]))) == -2.0


def test_only_wgan_gp_carries_a_penalty_weight() -> None:
    assert adversarial_loss("wgan-gp").penalty_weight == WGAN_GP_WEIGHT == 10.0
    for name in ("hinge", "lsgan", "bce", "wgan"):
        assert adversarial_loss(name).penalty_weight == 0.0


def test_adversarial_loss_unknown_name() -> None:
    with pytest.raises(ValueError, match="hinge, lsgan, wgan-gp, bce, wgan"):
        adversarial_loss("wasserstein")


def _unit_direction() -> torch.Tensor:
    w = torch.randn(1, 2, 4, 4)
    return w / w.norm()


def test_gradient_penalty_of_unit_norm_linear_critic_is_zero() -> None:
    w = _unit_direction()
    real, fake = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    penalty = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake)
    assert float(penalty) == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_of_norm_2_linear_critic_is_one() -> None:
    w = 2.0 * _unit_direction()
    real, fake = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    gen = torch.Generator().manual_seed(1)
    penalty = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake, generator=gen)
    assert float(penalty) == pytest.approx(1.0, abs=1e-5)  # (‖w‖ − 1)² = (2 − 1)²


def test_gradient_penalty_backpropagates_to_critic_parameters() -> None:
    unit = _unit_direction()
    w = (2.0 * unit).requires_grad_(True)
    real, fake = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    penalty = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake)
    assert penalty.grad_fn is not None
    penalty.backward()
    # d/dw (‖w‖ − 1)² = 2 (‖w‖ − 1) w / ‖w‖ = 2 · unit at ‖w‖ = 2.
    assert w.grad is not None
    torch.testing.assert_close(w.grad, 2.0 * unit, atol=1e-5, rtol=0)


# --- ImagePool --------------------------------------------------------------------------------


def _image(tag: int) -> torch.Tensor:
    """A (1, 1, 2, 2) image whose every pixel is ``tag``, so returned images can be identified."""
    return torch.full((1, 1, 2, 2), float(tag))


def _tag(image: torch.Tensor) -> int:
    assert image.shape == (1, 1, 2, 2)
    assert bool((image == image.flatten()[0]).all())
    return int(image.flatten()[0])


def test_image_pool_of_size_zero_returns_its_input() -> None:
    images = torch.randn(3, 1, 2, 2)
    assert ImagePool(0, seed=0).query(images) is images


def test_image_pool_returns_each_image_while_filling() -> None:
    pool = ImagePool(4, seed=0)
    for tag in range(4):
        assert _tag(pool.query(_image(tag))) == tag
    assert [_tag(t) for t in pool.images] == [0, 1, 2, 3]


def test_full_image_pool_returns_a_mix_of_new_and_stored_images() -> None:
    pool = ImagePool(4, seed=0)
    for tag in range(4):
        pool.query(_image(tag))
    new, old = 0, 0
    for tag in range(4, 44):
        returned = _tag(pool.query(_image(tag)))
        assert returned <= tag  # the query itself or an image queried earlier, never a made-up one
        if returned == tag:
            new += 1
        else:
            old += 1
    assert new > 0 and old > 0
    assert len(pool.images) == 4


def test_full_image_pool_neither_loses_nor_duplicates_images() -> None:
    pool = ImagePool(4, seed=3)
    for tag in range(4):
        pool.query(_image(tag))
    returned = [_tag(pool.query(_image(tag))) for tag in range(4, 44)]
    # Every image from the filled pool on is either handed back exactly once or still stored.
    assert sorted(returned + [_tag(t) for t in pool.images]) == list(range(44))


def test_image_pool_batch_query_keeps_shape() -> None:
    pool = ImagePool(2, seed=0)
    out = pool.query(torch.randn(5, 3, 4, 4))
    assert out.shape == (5, 3, 4, 4)
    assert len(pool.images) == 2


def test_image_pool_state_dict_resumes_identically() -> None:
    pool = ImagePool(4, seed=7)
    for tag in range(10):
        pool.query(_image(tag))
    state = pool.state_dict()
    restored_a, restored_b = ImagePool(4, seed=100), ImagePool(4, seed=200)
    restored_a.load_state_dict(state, torch.device("cpu"))
    restored_b.load_state_dict(state, torch.device("cpu"))
    future = [_image(tag) for tag in range(10, 40)]
    seq_original = [_tag(pool.query(img)) for img in future]
    seq_a = [_tag(restored_a.query(img)) for img in future]
    seq_b = [_tag(restored_b.query(img)) for img in future]
    assert seq_a == seq_b == seq_original
    assert len(set(seq_a) - set(range(10, 40))) > 0  # the restored images were actually used


# --- training helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(("fraction", "factor"), [(0.0, 1.0), (0.5, 1.0), (0.75, 0.5), (1.0, 0.0)])
def test_linear_decay(fraction: float, factor: float) -> None:
    assert linear_decay(fraction) == factor


def test_make_optimizer_rmsprop_is_hlsnc_setting() -> None:
    opt = make_optimizer("rmsprop", nn.Linear(2, 2).parameters(), lr=1e-3, beta1=0.5)
    assert type(opt) is torch.optim.RMSprop
    group = opt.param_groups[0]
    assert group["lr"] == 1e-3 and group["alpha"] == 0.9 and group["eps"] == 1e-8
    assert group["momentum"] == 0


def test_make_optimizer_adam_betas() -> None:
    opt = make_optimizer("adam", nn.Linear(2, 2).parameters(), lr=2e-4, beta1=0.5)
    assert type(opt) is torch.optim.Adam
    assert opt.param_groups[0]["betas"] == (0.5, 0.999)
    assert opt.param_groups[0]["lr"] == 2e-4


def test_make_optimizer_sgd_momentum() -> None:
    opt = make_optimizer("sgd", nn.Linear(2, 2).parameters(), lr=1e-2, beta1=0.5)
    assert type(opt) is torch.optim.SGD
    assert opt.param_groups[0]["momentum"] == 0.9


def test_make_optimizer_unknown_name() -> None:
    with pytest.raises(ValueError, match="rmsprop, adam, sgd"):
        make_optimizer("adagrad", nn.Linear(2, 2).parameters(), lr=1e-3, beta1=0.5)


def test_set_lr_sets_every_param_group() -> None:
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    opt = torch.optim.SGD(
        [{"params": a.parameters(), "lr": 0.1}, {"params": b.parameters(), "lr": 0.2}]
    )
    set_lr(opt, 0.005)
    assert [g["lr"] for g in opt.param_groups] == [0.005, 0.005]


def test_set_requires_grad_toggles_every_parameter() -> None:
    nets = [nn.Linear(2, 2), nn.Conv2d(1, 2, 3)]
    set_requires_grad(nets, False)
    assert not any(p.requires_grad for net in nets for p in net.parameters())
    set_requires_grad(nets, True)
    assert all(p.requires_grad for net in nets for p in net.parameters())


def test_count_parameters_sums_numel() -> None:
    # Linear(3, 2): 6 + 2; Conv2d(1, 2, 3): 18 + 2.
    assert count_parameters([nn.Linear(3, 2), nn.Conv2d(1, 2, 3)]) == 28


@pytest.mark.parametrize(("enabled", "dtype"), [(True, torch.bfloat16), (False, torch.float32)])
def test_autocast_switches_matmul_dtype(enabled: bool, dtype: torch.dtype) -> None:
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast(torch.device("cpu"), enabled):
        assert (a @ b).dtype == dtype
