"""The 3-D unconditional models (dcgan3d, wgan-gp3d) and the 3-D paths of their blocks."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import Tensor, nn

from medganbench.core.manager import Registries
from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.errors import UsageError
from medganbench.run.flops import PROBE_DATASET, probe_geometry
from medganbench_plugins.models.unconditional3d import UnconditionalGAN3D
from medganbench_plugins.nn.gan_losses import gradient_penalty
from medganbench_plugins.nn.training import count_parameters

MODELS = ("dcgan3d", "wgan-gp3d")
# Narrow networks keep these CPU tests fast where they are not about parameter counts.
SMALL = {"ngf": "8", "ndf": "8", "z_dim": "16", "batch_size": "2"}

# Golden counts (1 channel, z_dim 100, defaults ngf = ndf = 32 unless named) from a standalone
# PyTorch definition of the documented architecture, written and run outside the repository
# (3-D DCGAN generator, strided 3-D critic; checked against the closed-form sum of its layers).
# The ndf=64 critic at 64³ is Kwon et al.'s (cyclomon/3dbraingen Model_WGAN.Discriminator,
# 11,049,665 parameters) less the 896 biases of its three convolutions before batch norm.
COUNTS = [
    ("dcgan3d", 32, {}, "G", 1_477_057),
    ("dcgan3d", 32, {}, "D", 666_017),
    ("dcgan3d", 64, {}, "G", 4_393_921),
    ("dcgan3d", 64, {}, "D", 2_771_873),
    ("wgan-gp3d", 32, {}, "G", 1_477_057),
    ("wgan-gp3d", 32, {}, "D", 666_017),
    ("wgan-gp3d", 64, {}, "G", 4_393_921),
    ("wgan-gp3d", 64, {}, "D", 2_771_873),
    ("wgan-gp3d", 64, {"ndf": "64"}, "D", 11_048_769),
]


def _build(
    registries: Registries, name: str, args: dict[str, str], size: int = 32
) -> UnconditionalGAN3D:
    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=size, volume=probe_geometry(size))
    model = spec.build(args, ModelContext(size, info, torch.device("cpu"), 0))
    assert isinstance(model, UnconditionalGAN3D)
    return model


def _batch(seed: int, n: int = 2) -> TrainBatch:
    x = torch.rand(n, 1, 32, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return TrainBatch(x, x, x > 0, x > 0, False)


@pytest.mark.parametrize(("name", "size", "args", "net", "golden"), COUNTS)
def test_parameter_counts_match_the_reference_definition(
    registries: Registries, name: str, size: int, args: dict[str, str], net: str, golden: int
) -> None:
    model = _build(registries, name, args, size)
    generator = count_parameters((model.generator,))
    count = generator if net == "G" else count_parameters((model.critic,))
    assert count == golden
    assert model.parameter_count() == generator + count_parameters((model.critic,))


@pytest.mark.parametrize("name", MODELS)
def test_a_training_step_changes_the_generator_with_finite_losses(
    registries: Registries, name: str
) -> None:
    model = _build(registries, name, SMALL)
    assert model.task is Task.SAMPLE and model.spatial_dims == 3
    before = [p.detach().clone() for p in model.generator.parameters()]
    losses = model.train_step(_batch(0))
    expected = {"g", "d", "gp"} if name == "wgan-gp3d" else {"g", "d"}
    assert set(losses) == expected
    assert all(isinstance(v, Tensor) and math.isfinite(v) for v in losses.values())
    after = list(model.generator.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


@pytest.mark.parametrize("name", MODELS)
def test_samples_are_seeded_volumes_in_range(registries: Registries, name: str) -> None:
    model = _build(registries, name, SMALL)
    model.train_step(_batch(0))  # move the batch-norm statistics off their initial values
    model.eval_mode()
    one = model.sample(3, torch.Generator().manual_seed(7))
    two = model.sample(3, torch.Generator().manual_seed(7))
    other = model.sample(3, torch.Generator().manual_seed(8))
    assert one.shape == (3, 1, 32, 32, 32) and one.dtype == torch.float32
    assert one.min() >= -1.0 and one.max() <= 1.0
    assert torch.equal(one, two) and not torch.equal(one, other)


@pytest.mark.parametrize("name", MODELS)
def test_trains_channels_last_3d_under_bf16_autocast(registries: Registries, name: str) -> None:
    """The CUDA code path (bf16 autocast, channels-last memory), on the CPU where torch allows it:
    5-D weights and volumes take channels_last_3d (2-D channels_last cannot hold them)."""
    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=32, volume=probe_geometry(32))
    ctx = ModelContext(32, info, torch.device("cpu"), 0, amp=True, channels_last=True)
    model = spec.build(SMALL, ctx)
    weight = model.critic.to_logit.weight
    assert weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert all(math.isfinite(v) for v in model.train_step(_batch(0)).values())
    volumes = model.sample(2, torch.Generator().manual_seed(0))
    assert volumes.dtype == torch.float32 and volumes.shape == (2, 1, 32, 32, 32)


@pytest.mark.parametrize("size", [256, 48, 8])
def test_sizes_outside_16_to_128_are_refused(registries: Registries, size: int) -> None:
    # 256 is a 2-D size (dcgan builds it); 48 is no power of two; 8 has no stride-2 stage.
    with pytest.raises(UsageError, match=f"image size {size} is not one of them"):
        _build(registries, "dcgan3d", SMALL, size)


def test_the_smallest_volume_builds_and_trains(registries: Registries) -> None:
    model = _build(registries, "dcgan3d", SMALL, size=16)
    x = torch.rand(2, 1, 16, 16, 16) * 2 - 1
    losses = model.train_step(TrainBatch(x, x, x > 0, x > 0, False))
    assert all(math.isfinite(v) for v in losses.values())
    assert model.sample(2, torch.Generator().manual_seed(0)).shape == (2, 1, 16, 16, 16)


def test_wgan_gp3d_critic_scores_each_volume_on_its_own(registries: Registries) -> None:
    """Layer norm over (C, D, H, W), not batch norm: a volume's score ignores its batch."""
    model = _build(registries, "wgan-gp3d", SMALL)
    assert not any(isinstance(m, nn.BatchNorm3d) for m in model.critic.modules())
    x = _batch(1, n=3).b
    with torch.no_grad():
        torch.testing.assert_close(model.critic(x)[:1], model.critic(x[:1]))


def test_gradient_penalty_interpolates_each_volume_with_one_weight() -> None:
    seen: list[Tensor] = []

    def critic(x: Tensor) -> Tensor:
        seen.append(x)
        return x.flatten(1).sum(1)

    real = torch.rand(3, 1, 4, 4, 4) + 2.0  # real > fake everywhere: the weight is recoverable
    fake = torch.rand(3, 1, 4, 4, 4) - 2.0
    gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert seen[0].shape == real.shape
    alpha = (seen[0].detach() - fake) / (real - fake)  # x̂ = α·real + (1 − α)·fake
    per_volume = alpha.flatten(1)
    torch.testing.assert_close(per_volume, per_volume[:, :1].expand_as(per_volume))
    assert per_volume.min() >= 0 and per_volume.max() <= 1
    assert per_volume[:, 0].unique().numel() == 3  # a weight of its own for each volume
