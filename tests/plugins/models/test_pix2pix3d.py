"""pix2pix3d: pix2pix's networks and training step on volumes.

Golden parameter counts come from a standalone port of the reference code's networks
(junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``: ``UnetSkipConnectionBlock``,
``UnetGenerator``, ``NLayerDiscriminator``, ``get_norm_layer("batch")``) with every 2-D layer
swapped for its 3-D class, run outside this repository; its 2-D counts also reproduce the
pinned unet_256 (54,413,955) and PatchGAN (2,765,633) counts of test_nn_blocks.py.
"""

from __future__ import annotations

import dataclasses
import io
import math
from typing import Any

import pytest
import torch
from torch import nn

from medganbench.core.geometry import VolumeGeometry
from medganbench.core.manager import Registries
from medganbench.core.model import Model, ModelContext, TrainBatch
from medganbench.errors import UsageError
from medganbench.run.flops import PROBE_DATASET
from medganbench_plugins.nn.discriminators import PatchDiscriminator
from medganbench_plugins.nn.generators import UnetBlock, UnetGenerator, unet_depth
from medganbench_plugins.nn.init import INIT_GAIN
from medganbench_plugins.nn.norms import make_norm
from medganbench_plugins.nn.training import count_parameters

#: Reference port, 3-D, one channel in and out, ngf = ndf = 32 (the model's defaults).
GOLDEN_G_3D = {32: 16_654_145, 64: 29_238_081}
GOLDEN_D_3D = 2_773_921  # (source, image) pairs: 2 channels; the same at every size
#: Reference port, 2-D, one channel in and out, ngf = ndf = 64 (the reference's widths).
GOLDEN_G_2D = {5: 16_652_929, 6: 29_237_889}
GOLDEN_D_2D = 2_764_609
#: Narrow networks where only the code path matters.
NARROW = {"ngf": "4", "ndf": "4"}


def _build(
    registries: Registries,
    args: dict[str, str] | None = None,
    size: tuple[int, ...] = (32, 32, 32),
    name: str = "pix2pix3d",
    **ctx: Any,
) -> Model:
    """``name`` built on volumes of ``size`` (D, H, W), or on images of ``size`` (H, W)."""
    volume = None
    if len(size) == 3:
        volume = VolumeGeometry((size[0], size[1], size[2]), (1.0, 1.0, 1.0), "SPL")
    info = dataclasses.replace(PROBE_DATASET, image_size=size[-1], volume=volume)
    context = ModelContext(size[-1], info, torch.device("cpu"), 0, **ctx)
    model: Model = registries.models.get(name).build(args or {}, context)
    return model


def _pair(shape: tuple[int, ...], seed: int = 0) -> TrainBatch:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return TrainBatch(x, x.flip(-1), x > 0, x > 0, True)


# ---- architecture --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [32, 64])
def test_default_networks_have_the_reference_port_parameter_counts(registries, size: int) -> None:
    model = _build(registries, size=(size,) * 3)
    assert count_parameters((model.generator,)) == GOLDEN_G_3D[size]
    assert count_parameters((model.critic,)) == GOLDEN_D_3D


@pytest.mark.parametrize("depth", [5, 6])
def test_shared_builders_keep_the_2d_reference_counts(depth: int) -> None:
    with torch.device("meta"):  # counting only
        generator = UnetGenerator(1, 1, depth, 64, "batch")
        critic = PatchDiscriminator(2, 64, 3, "batch")
    assert count_parameters((generator,)) == GOLDEN_G_2D[depth]
    assert count_parameters((critic,)) == GOLDEN_D_2D
    kinds = {type(m) for net in (generator, critic) for m in net.modules()}
    assert nn.Conv2d in kinds and nn.BatchNorm2d in kinds
    assert not kinds & {nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d}


@pytest.mark.parametrize(
    ("size", "levels"),
    [((32,) * 3, 5), ((64,) * 3, 6), ((128,) * 3, 7), ((256,) * 3, 8), ((512,) * 3, 8)]
    + [((32, 64, 64), 5), ((96,) * 3, 5)],
)
def test_unet_depth_halves_every_side_down_to_the_smallest(
    size: tuple[int, int, int], levels: int
) -> None:
    assert unet_depth(size) == levels


@pytest.mark.parametrize(("size", "levels"), [((32, 32, 32), 5), ((64, 64, 64), 6)])
def test_generator_depth_follows_the_volume(
    registries, size: tuple[int, int, int], levels: int
) -> None:
    model = _build(registries, NARROW, size)
    assert sum(isinstance(m, UnetBlock) for m in model.generator.modules()) == levels


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("batch", nn.BatchNorm3d), ("instance", nn.InstanceNorm3d), ("layer", nn.GroupNorm)],
)
def test_make_norm_builds_volume_norms(kind: str, cls: type[nn.Module]) -> None:
    norm = make_norm(kind, 6, dims=3)
    assert type(norm) is cls
    x = torch.randn(2, 6, 4, 4, 4)
    assert norm(x).shape == x.shape


def test_volume_builders_refuse_switchable_norm_and_other_dims() -> None:
    with pytest.raises(ValueError, match="2-D only"):
        make_norm("switchable", 6, dims=3)
    with pytest.raises(ValueError, match="dims must be one of"):
        PatchDiscriminator(2, 4, 3, "batch", dims=1)


def test_networks_are_3d_throughout(registries) -> None:
    model = _build(registries, NARROW)
    kinds = {type(m) for net in (model.generator, model.critic) for m in net.modules()}
    assert {nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d} <= kinds
    assert not kinds & {nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d}


def test_patch_discriminator_sees_70_voxels_along_every_axis() -> None:
    """The receptive field of one logit, measured: the input voxels its gradient reaches."""
    torch.manual_seed(0)
    critic = PatchDiscriminator(1, 2, 3, "batch", dims=3).eval().double()  # eval: local norms
    x = torch.randn(1, 1, 96, 96, 96, dtype=torch.float64, requires_grad=True)
    logits = critic(x)
    assert logits.shape == (1, 1, 10, 10, 10)
    logits[0, 0, 5, 5, 5].backward()
    assert x.grad is not None
    reached = x.grad[0, 0] != 0
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hit = reached.any(dim=others).nonzero().flatten()
        assert hit.max() - hit.min() + 1 == 70, axis
        assert hit.min() > 0 and hit.max() < 95  # the patch lies inside the input


def test_batch_norm_scales_start_at_one_as_a_3d_port_of_the_reference_leaves_them(
    registries,
) -> None:
    torch.manual_seed(0)
    model = _build(registries, {"ngf": "16", "ndf": "16"})
    norms = [m for m in model.generator.modules() if isinstance(m, nn.BatchNorm3d)]
    assert norms and all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in norms)
    convs = [m.weight.flatten() for m in model.generator.modules() if isinstance(m, nn.Conv3d)]
    weights = torch.cat(convs)
    assert abs(weights.std().item() - INIT_GAIN) < 5 * INIT_GAIN / math.sqrt(2 * weights.numel())


# ---- training and translating ----------------------------------------------------------------


def test_one_train_step_gives_finite_losses_and_changes_the_generator(registries) -> None:
    torch.manual_seed(0)
    model = _build(registries)
    before = [p.detach().clone() for p in model.generator.parameters()]
    model.train_mode()
    losses = model.train_step(_pair((2, 1, 32, 32, 32)))
    assert set(losses) == {"g_adv", "l1", "d"}
    assert all(math.isfinite(float(v)) for v in losses.values())
    after = list(model.generator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("size", [(32, 32, 32), (32, 64, 32)])
def test_translate_keeps_the_volume_shape(registries, size: tuple[int, int, int]) -> None:
    model = _build(registries, NARROW, size)
    x = torch.rand(2, 1, *size) * 2 - 1
    model.eval_mode()
    with torch.no_grad():
        out = model.translate(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert float(out.abs().max()) <= 1.0


def test_state_dict_round_trip_gives_identical_translations(registries) -> None:
    torch.manual_seed(0)
    trained = _build(registries, NARROW)
    trained.train_step(_pair((2, 1, 32, 32, 32)))
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(123)  # other initial weights
    loaded = _build(registries, NARROW)
    loaded.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.rand(2, 1, 32, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
    outputs = []
    for model in (trained, loaded):
        model.eval_mode()
        with torch.no_grad():
            outputs.append(model.translate(x))
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize(("name", "shape"), [("pix2pix3d", (32, 32, 32)), ("pix2pix", (32, 32))])
def test_channels_last_with_bf16_autocast_trains_and_translates(
    registries, name: str, shape: tuple[int, ...]
) -> None:
    """The CUDA code path (channels-last, bf16 autocast), on CPU where torch allows it: bf16
    for images only, since the runner trains volumes in fp32 on a CPU (oneDNN's bf16 Conv3d
    weight gradients are wrong for small volumes there, and make this step's losses NaN at
    random)."""
    model = _build(registries, NARROW, shape, name, amp=len(shape) == 2, channels_last=True)
    batch = _pair((1, 1, *shape))
    fmt = torch.channels_last_3d if len(shape) == 3 else torch.channels_last
    last = TrainBatch(
        batch.a.contiguous(memory_format=fmt),
        batch.b.contiguous(memory_format=fmt),
        batch.mask_a,
        batch.mask_b,
        True,
    )
    losses = model.train_step(last)
    assert all(math.isfinite(float(v)) for v in losses.values())
    model.eval_mode()
    with torch.no_grad():
        out = model.translate(batch.a)
    assert out.shape == batch.a.shape and out.dtype == torch.float32


# ---- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(48, 48, 48), (32, 32, 40)])
def test_volume_sides_not_divisible_by_32_are_refused(
    registries, size: tuple[int, int, int]
) -> None:
    with pytest.raises(UsageError, match="divisible by 32") as info:
        _build(registries, NARROW, size)
    assert info.value.exit_code == 2


def test_switchable_norm_is_refused_for_volumes(registries) -> None:
    with pytest.raises(UsageError) as info:
        registries.models.get("pix2pix3d").resolve({"norm": "switchable"})
    assert "instance|batch|layer" in (info.value.hint or "")


def test_model_is_3d_and_needs_paired_training(registries) -> None:
    cls = registries.models.get("pix2pix3d").load()
    assert cls.spatial_dims == 3 and cls.needs_paired_training
