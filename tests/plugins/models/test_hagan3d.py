"""The ``hagan3d`` model (HA-GAN, Sun et al. 2022): parameter counts against the authors'
classes, the size rule, network shapes, the crop rule, one training iteration, sampling and
state."""

from __future__ import annotations

import dataclasses
import io
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from medganbench.core.geometry import VolumeGeometry
from medganbench.core.manager import Registries
from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.errors import UsageError
from medganbench.run.flops import PROBE_DATASET, probe_geometry
from medganbench_plugins.models.hagan3d import (
    HAGAN3D,
    Discriminator,
    Encoder,
    Generator,
    SubEncoder,
)
from medganbench_plugins.models.hagan3d_nets import crop_limit, low_res_volume

# Narrow networks keep the training tests fast; the code path is the default model's.
SMALL: dict[str, str] = {"channels": "16", "latent_dim": "64", "batch_size": "2"}

# The authors' classes, counted outside the repository on CPU (batmanlab/HA-GAN at commit
# 1d4f22646412b726811a69aa455a835d96d363d4):
#   mkdir -p /tmp/hagan_ref/models && cd /tmp/hagan_ref && for f in models/__init__.py \
#     models/layers.py models/Model_HA_GAN_128.py models/Model_HA_GAN_256.py; do \
#     git -C /work/.mirror/batmanlab+HA-GAN/repo show HEAD:$f > $f; done
#   python -c "import importlib; m = importlib.import_module('models.Model_HA_GAN_128'); \
#     print([sum(p.numel() for p in n.parameters()) for n in (m.Generator(mode='train', \
#     latent_dim=1024), m.Discriminator(), m.Encoder(), m.Sub_Encoder(latent_dim=1024))])"
#   (and the same with Model_HA_GAN_256). Their spectral-norm vectors are buffers, not
#   parameters, as torch's parametrisation's are, so the counts compare directly.
AUTHORS = {
    128: {
        "generator": 52_518_210,
        "discriminator": 7_241_442,
        "encoder": 161_152,
        "sub_encoder": 19_663_168,
    },
    256: {
        "generator": 52_518_210,
        "discriminator": 7_402_258,
        "encoder": 161_152,
        "sub_encoder": 19_663_264,
    },
}
# Ours, not the authors' (they build 128 and 256 only): the counts this module's size rule
# gives at 32 and 64, a regression guard for the rule documented in hagan3d.py.
OURS = {
    32: {
        "generator": 52_518_210,
        "discriminator": 4_240_834,
        "encoder": 161_152,
        "sub_encoder": 17_827_584,
    },
    64: {
        "generator": 52_518_210,
        "discriminator": 6_592_130,
        "encoder": 161_152,
        "sub_encoder": 19_400_832,
    },
}


def _ctx(size: int, seed: int = 0, volume: VolumeGeometry | None = None) -> ModelContext:
    info = dataclasses.replace(
        PROBE_DATASET, image_size=size, volume=volume or probe_geometry(size)
    )
    return ModelContext(size, info, torch.device("cpu"), seed)


def _build(
    registries: Registries, args: dict[str, str] | None = None, size: int = 32, seed: int = 0
) -> HAGAN3D:
    torch.manual_seed(seed)  # weights come from the global RNG, which the runner seeds
    model = registries.models.get("hagan3d").build(args or {}, _ctx(size, seed))
    assert isinstance(model, HAGAN3D)
    return model


def _batch(seed: int, n: int = 2, size: int = 32) -> TrainBatch:
    x = torch.rand(n, 1, size, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return TrainBatch(x, x, x > 0, x > 0, False)


def _state_bytes(model: HAGAN3D) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _loaded(data: bytes) -> dict[str, object]:
    # Read back as checkpoints are: weights_only.
    state: dict[str, object] = torch.load(io.BytesIO(data), weights_only=True)
    return state


@pytest.mark.parametrize("size", sorted(AUTHORS))
def test_parameter_counts_equal_the_authors_classes(registries: Registries, size: int) -> None:
    assert _build(registries, size=size).network_parameter_counts() == AUTHORS[size]


@pytest.mark.parametrize("size", sorted(OURS))
def test_parameter_counts_of_the_size_rule_at_32_and_64(registries: Registries, size: int) -> None:
    assert _build(registries, size=size).network_parameter_counts() == OURS[size]


def test_spectral_norm_on_every_layer_of_d_and_nowhere_else() -> None:
    def layers(net: nn.Module) -> list[nn.Module]:
        return [m for m in net.modules() if isinstance(m, nn.Conv3d | nn.Linear)]

    d = layers(Discriminator(32))
    assert d and all(parametrize.is_parametrized(m, "weight") for m in d)
    for net in (Generator(32, 64, 16), Encoder(32), SubEncoder(32, 128, 64)):
        assert not any(parametrize.is_parametrized(m) for m in layers(net))


@pytest.mark.parametrize("size", [128, 256])
def test_crop_index_is_normalised_by_seven_eighths_of_the_side(size: int) -> None:
    # The authors divide by 112 (128 px) and 224 (256 px).
    assert Discriminator(size).high_res.crop_scale == size * 7 // 8


def test_network_shapes_at_32() -> None:
    g, d = Generator(32), Discriminator(32)
    e, sub_e = Encoder(), SubEncoder(32)
    z = torch.randn(1, 1024)  # batch size 1: the authors' squeeze() broke here
    with torch.no_grad():
        crop, small = g.crop(z, 28)
        assert crop.shape == (1, 1, 4, 32, 32) and small.shape == (1, 1, 8, 8, 8)
        assert g(z).shape == (1, 1, 32, 32, 32)
        assert g.latent(z).shape == (1, 64, 8, 8, 8)
        assert d(crop, small, 28).shape == (1, 1)
        features = e(crop)
        assert features.shape == (1, 64, 1, 8, 8)
        assert g.decode(features).shape == (1, 1, 4, 32, 32)
        assert sub_e(torch.cat([features] * 8, 2)).shape == (1, 1024)


def test_generator_crops_latent_slices_from_a_quarter_of_the_index() -> None:
    g = Generator(32, 64, 16)
    z = torch.randn(2, 64)
    with torch.no_grad():
        crops = [g.crop(z, k)[0] for k in (4, 5, 7, 8)]
    # ⌊k/4⌋ picks the latent slice: 4–7 share one, 8 takes the next.
    assert torch.equal(crops[0], crops[1]) and torch.equal(crops[0], crops[2])
    assert not torch.equal(crops[0], crops[3])


def test_crop_indices_cover_zero_to_seven_eighths_of_the_side(registries: Registries) -> None:
    model = _build(registries, SMALL)
    drawn = {model.draw_crop() for _ in range(2000)}
    assert drawn == set(range(crop_limit(32) + 1))  # 0 … 28, both ends included


def test_low_res_volume_takes_every_fourth_voxel() -> None:
    x = torch.randn(2, 1, 32, 32, 32)
    assert torch.equal(low_res_volume(x), x[:, :, ::4, ::4, ::4])


def test_declares_a_3d_sampler_with_the_authors_training_settings(
    registries: Registries,
) -> None:
    model = _build(registries, SMALL)
    assert HAGAN3D.task is Task.SAMPLE and HAGAN3D.spatial_dims == 3
    defaults = registries.models.get("hagan3d").resolve({})
    assert (defaults["latent_dim"], defaults["batch_size"]) == (1024, 4)
    groups = {
        name: opt.param_groups[0]
        for name, opt in (
            ("g", model.opt_g),
            ("d", model.opt_d),
            ("e", model.opt_e),
            ("sub_e", model.opt_sub_e),
        )
    }
    assert {k: g["lr"] for k, g in groups.items()} == {
        "g": 1e-4,
        "d": 4e-4,
        "e": 1e-4,
        "sub_e": 1e-4,
    }
    assert all(tuple(g["betas"]) == (0.0, 0.999) and g["eps"] == 1e-8 for g in groups.values())


def test_one_step_gives_finite_losses_and_updates_every_network(registries: Registries) -> None:
    model = _build(registries, SMALL)
    before = {
        name: [p.detach().clone() for p in net.parameters()]
        for name, net in model.trained_modules().items()
    }
    losses = model.train_step(_batch(0))
    assert set(losses) == {"d", "d_real", "d_fake", "g", "e", "sub_e"}
    assert all(math.isfinite(float(v)) for v in losses.values()), losses
    for name, net in model.trained_modules().items():
        moved = [not torch.equal(a, b) for a, b in zip(before[name], net.parameters(), strict=True)]
        assert all(moved), f"{name}: {moved.count(False)} of {len(moved)} tensors unchanged"
        assert all(p.requires_grad for p in net.parameters())  # unfrozen after the step


def test_the_same_seed_gives_the_same_losses(registries: Registries) -> None:
    one, two = _build(registries, SMALL), _build(registries, SMALL)
    assert {k: float(v) for k, v in one.train_step(_batch(0)).items()} == {
        k: float(v) for k, v in two.train_step(_batch(0)).items()
    }


def test_sampling_is_deterministic_full_volumes_in_range(registries: Registries) -> None:
    model = _build(registries, SMALL)
    model.train_step(_batch(0))
    model.eval_mode()
    one = model.sample(3, torch.Generator().manual_seed(5))
    two = model.sample(3, torch.Generator().manual_seed(5))
    other = model.sample(3, torch.Generator().manual_seed(6))
    assert one.shape == (3, 1, 32, 32, 32) and one.dtype == torch.float32
    assert torch.equal(one, two) and not torch.equal(one, other)
    assert one.min() >= -1.0 and one.max() <= 1.0


def test_state_dict_round_trip_restores_samples_and_the_next_step(registries: Registries) -> None:
    model = _build(registries, SMALL)
    model.train_step(_batch(0))
    fresh = _build(registries, SMALL, seed=1)
    fresh.load_state_dict(_loaded(_state_bytes(model)))
    for m in (model, fresh):
        m.eval_mode()
    assert torch.equal(
        model.sample(2, torch.Generator().manual_seed(3)),
        fresh.sample(2, torch.Generator().manual_seed(3)),
    )
    for m in (model, fresh):
        m.train_mode()
    # Optimiser states and the noise/crop RNG came along: the next step is the same.
    assert {k: float(v) for k, v in model.train_step(_batch(1)).items()} == {
        k: float(v) for k, v in fresh.train_step(_batch(1)).items()
    }


@pytest.mark.parametrize(
    ("args", "size", "volume", "said"),
    [
        ({}, 48, None, "volumes of side"),
        ({"channels": "24"}, 32, None, "multiple of 16"),
        ({}, 32, VolumeGeometry((16, 32, 32), (1.0, 1.0, 1.0), "SPL"), "16×32×32"),
    ],
    ids=["size", "channels", "not-a-cube"],
)
def test_refuses_what_it_cannot_build(
    registries: Registries,
    args: dict[str, str],
    size: int,
    volume: VolumeGeometry | None,
    said: str,
) -> None:
    spec = registries.models.get("hagan3d")
    with pytest.raises(UsageError, match=said):
        spec.build(args, _ctx(size, volume=volume))


def test_trains_one_volume_per_step_under_bf16_autocast(registries: Registries) -> None:
    # Batch size 1 broke the authors' squeeze(); autocast runs the networks in bf16.
    spec = registries.models.get("hagan3d")
    torch.manual_seed(0)
    model = spec.build({**SMALL, "batch_size": "1"}, dataclasses.replace(_ctx(32), amp=True))
    losses = model.train_step(_batch(0, n=1))
    assert all(math.isfinite(float(v)) for v in losses.values()), losses
    sample = model.sample(1, torch.Generator().manual_seed(0))
    assert sample.dtype == torch.float32 and sample.shape == (1, 1, 32, 32, 32)
