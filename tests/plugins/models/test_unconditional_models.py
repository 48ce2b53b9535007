"""The unconditional models (dcgan, wgan-gp, sagan) and their building blocks."""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from medganbench.core.manager import Registries
from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench_plugins.nn.sampling import (
    ConvDiscriminator,
    DCGANGenerator,
    SelfAttention,
    sample_noise,
)

MODELS = ("dcgan", "wgan-gp", "sagan")
# Narrow networks keep CPU tests fast; batch 4 is still split among wgan-gp's critic steps
# only when n_critic <= 4, so both code paths are covered below.
SMALL = {"ngf": "8", "ndf": "8", "batch_size": "4", "z_dim": "16"}


def _build(
    registries: Registries,
    name: str,
    args: dict[str, str] | None = None,
    size: int = 32,
    amp: bool = False,
) -> Model:
    from medganbench.run.flops import PROBE_DATASET

    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=size)
    context = ModelContext(size, info, torch.device("cpu"), 0, amp=amp)
    return spec.build({**SMALL, **(args or {})}, context)


def _batch(seed: int) -> TrainBatch:
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return TrainBatch(x.flip(-1), x, x > 0, x > 0, False)


@pytest.mark.parametrize("name", MODELS)
def test_trains_with_finite_losses_and_samples_deterministically(registries, name: str) -> None:
    model = _build(registries, name)
    assert model.task is Task.SAMPLE and model.parameter_count() > 0
    for step in range(2):
        losses = model.train_step(_batch(step))
        assert losses and all(v.ndim == 0 and math.isfinite(v) for v in losses.values())
    model.eval_mode()
    one = model.sample(5, torch.Generator().manual_seed(7))
    two = model.sample(5, torch.Generator().manual_seed(7))
    other = model.sample(5, torch.Generator().manual_seed(8))
    model.train_mode()
    assert one.shape == (5, 1, 32, 32) and one.dtype == torch.float32
    assert torch.equal(one, two) and not torch.equal(one, other)
    assert one.min() >= -1.0 and one.max() <= 1.0


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16"])
@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_resumes_training_exactly(registries, name: str, amp: bool) -> None:
    """Everything needed to resume is in state_dict: the next step's losses match bit for bit."""
    first = _build(registries, name, amp=amp)
    first.train_step(_batch(0))
    buffer = io.BytesIO()
    torch.save({"model": first.state_dict(), "rng": torch.get_rng_state()}, buffer)
    expected = first.train_step(_batch(1))

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    torch.manual_seed(123)  # a different construction-time RNG state
    resumed = _build(registries, name, amp=amp)
    resumed.load_state_dict(saved["model"])
    torch.set_rng_state(saved["rng"])
    assert resumed.train_step(_batch(1)) == expected


def test_wgan_gp_reuses_a_batch_smaller_than_n_critic(registries) -> None:
    model = _build(registries, "wgan-gp")  # n_critic 5 > batch 4: reused
    assert len(model._critic_chunks(_batch(0).b)) == 5
    split = _build(registries, "wgan-gp", {"n_critic": "2"})
    assert [c.shape[0] for c in split._critic_chunks(_batch(0).b)] == [2, 2]
    assert all(math.isfinite(v) for v in split.train_step(_batch(0)).values())


def test_self_attention_is_identity_at_init_with_normalised_rows() -> None:
    block = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    y, attention = block(x)
    assert block.gamma.item() == 0.0 and torch.equal(y, x)
    assert attention.shape == (2, 64, 64)
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 64))


def test_sagan_has_spectral_norm_and_attention_in_both_networks(registries) -> None:
    model = _build(registries, "sagan")
    for net in model.nets:
        assert any(
            torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in net.modules()
        ), type(net).__name__
        assert any(isinstance(m, SelfAttention) for m in net.modules())
    # Attention at image_size / 4 = 8: the generator's second block, the critic's second block.
    assert model.generator.attention_index == 1 and model.critic.attention_index == 1


def test_wgan_gp_critic_has_no_batch_norm(registries) -> None:
    model = _build(registries, "wgan-gp")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.critic.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.critic.modules())


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_builders_cover_power_of_two_sizes(size: int) -> None:
    g = DCGANGenerator(size, 10, 1, 4, attention_res=size // 4)
    d = ConvDiscriminator(size, 1, 4, norm="layer", spectral=True, attention_res=size // 4)
    images = g(sample_noise(2, 10, torch.Generator().manual_seed(0), torch.device("cpu")))
    assert images.shape == (2, 1, size, size)
    assert d(images).shape == (2,)


def test_builders_refuse_bad_sizes() -> None:
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(48, 10, 1, 4)
    with pytest.raises(ValueError, match="attention"):
        ConvDiscriminator(32, 1, 4, attention_res=32)


def test_noise_is_uniform_in_unit_box() -> None:
    z = sample_noise(1000, 100, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert z.shape == (1000, 100) and z.min() >= -1 and z.max() <= 1
    assert z.min() < -0.99 and z.max() > 0.99  # uniform, not Gaussian-squashed


@pytest.mark.slow
def test_dcgan_end_to_end_writes_a_kid_row(registries, dirs: dict[str, Path]) -> None:
    spec = RunSpec(
        model="dcgan",
        dataset="phantom-brain",
        dataset_args={
            "train_subjects": "2",
            "val_subjects": "2",
            "test_subjects": "2",
            "slices_per_subject": "2",
            "domain": "b",
        },
        image_size=32,
        budget=Budget(steps=2),
        metrics=("kid",),
        model_args={"ngf": "8", "ndf": "8", "batch_size": "4"},
    )
    result = execute_run(spec, registries, RunOptions(progress=False, **dirs))
    rows = read_leaderboard(result.leaderboard).to_pylist()
    assert [r["metric"] for r in rows] == ["kid"]
    assert math.isfinite(rows[0]["value"])


@pytest.mark.parametrize("name", MODELS)
def test_trains_on_channels_last_with_bf16_autocast(registries, name: str) -> None:
    """The CUDA code path (autocast bf16 + channels-last), exercised on CPU where torch allows it."""
    from medganbench.run.flops import PROBE_DATASET

    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=32)
    ctx = ModelContext(32, info, torch.device("cpu"), 0, amp=True, channels_last=True)
    model = spec.build(SMALL, ctx)
    assert all(math.isfinite(v) for v in model.train_step(_batch(0)).values())
    images = model.sample(3, torch.Generator().manual_seed(0))
    assert images.dtype == torch.float32 and images.shape == (3, 1, 32, 32)
