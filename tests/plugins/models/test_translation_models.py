"""The translation models (cyclegan, hlsnc, pix2pix) through the real runner and their arguments."""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from medganbench.core.manager import Registries
from medganbench.core.model import ModelContext, TrainBatch
from medganbench.errors import UnknownNameError, UsageError
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.device import cpu_has_native_bf16
from medganbench.run.flops import probe_model
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec, resolve_run
from medganbench_plugins.models.hlsnc import TABLE5_ABLATION
from medganbench_plugins.nn.norms import SwitchableNorm2d
from medganbench_plugins.nn.training import linear_decay

TRANSLATORS = ("cyclegan", "hlsnc", "pix2pix")
CYCLE_MODELS = ("cyclegan", "hlsnc")
# Narrow networks keep CPU tests fast; the code path is the full model's.
NARROW: dict[str, dict[str, str]] = {
    "cyclegan": {"ngf": "16", "ndf": "16", "n_blocks": "2"},
    "hlsnc": {"ngf": "16", "ndf": "16", "n_blocks": "2"},
    "pix2pix": {"ngf": "16", "ndf": "16"},
}
FEW = {"train_subjects": "2", "val_subjects": "2", "test_subjects": "2", "slices_per_subject": "2"}


def _spec(model: str, **changes: Any) -> RunSpec:
    spec = RunSpec(
        model=model,
        model_args=NARROW.get(model, {}),
        dataset_args=FEW,
        image_size=32,
        budget=Budget(steps=2),
    )
    return dataclasses.replace(spec, **changes)


def _run(registries: Registries, dirs: dict[str, Path], spec: RunSpec):
    # The tests read the trained state from the final checkpoint: keep it.
    return execute_run(spec, registries, RunOptions(progress=False, keep_checkpoint=True, **dirs))


# ---- learning ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("model", TRANSLATORS)
def test_model_overfits_a_few_pairs_better_than_identity(registries, dirs, model: str) -> None:
    """A real learning check: 120 steps on 4 phantom slices, scored on those same slices."""

    def psnr(name: str) -> float:
        spec = _spec(name, budget=Budget(steps=120), eval_split="train", metrics=("psnr",))
        if name == "identity":
            spec = dataclasses.replace(spec, model_args={})
        return _run(registries, dirs, spec).metrics["psnr"]

    baseline, learned = psnr("identity"), psnr(model)
    # identity scores about 13.5 dB here; every model reached 18–24 dB when this was written.
    assert learned > baseline + 3.0, f"{model}: {learned:.2f} dB vs identity {baseline:.2f} dB"


# ---- what the runner records -----------------------------------------------------------------


@pytest.mark.parametrize("model", CYCLE_MODELS)
def test_cycle_model_is_scored_in_both_directions(registries, dirs, model: str) -> None:
    result = _run(registries, dirs, _spec(model))
    every = read_leaderboard(result.leaderboard).to_pylist()
    # The phantom's subjects are volumes: each metric has a slice row and a volume row.
    rows = [r for r in every if r["eval_unit"] == "slice"]
    expected = sorted(
        (d, m) for d in ("a2b", "b2a", "a2b2a", "b2a2b") for m in ("psnr", "ssim", "mae")
    )
    assert sorted((r["direction"], r["metric"]) for r in rows) == expected
    volume = [r for r in every if r["eval_unit"] == "volume"]
    assert sorted((r["direction"], r["metric"]) for r in volume) == expected
    mae = {r["direction"]: r["value"] for r in rows if r["metric"] == "mae"}
    # A→B is scored in CT's HU (window 4024 HU wide), B→A in MR's a.u. (window [0, 1]).
    assert mae["a2b"] > 1.0 and 0.0 <= mae["b2a"] <= 1.0
    for grid in ("samples.png", "samples-b2a.png", "samples-a2b2a.png", "samples-b2a2b.png"):
        assert (result.run_dir / grid).exists()


def test_eval_both_false_gives_only_the_primary_direction(registries, dirs) -> None:
    args = {**NARROW["cyclegan"], "eval_both": "false", "eval_cycle": "false", "direction": "b2a"}
    rows = read_leaderboard(
        _run(registries, dirs, _spec("cyclegan", model_args=args)).leaderboard
    ).to_pylist()
    assert {r["direction"] for r in rows} == {"b2a"}


def test_cycle_reconstruction_is_scored_on_unpaired_data(registries, dirs) -> None:
    """On unpaired data only A→B→A vs A (a true pair) gets paired metrics; FID covers A→B."""
    spec = _spec("hlsnc", dataset_args={**FEW, "paired": "false"}, metrics=("psnr", "mae"))
    rows = read_leaderboard(_run(registries, dirs, spec).leaderboard).to_pylist()
    assert {r["direction"] for r in rows} == {"a2b2a", "b2a2b"}
    mae = {r["direction"]: r["value"] for r in rows if r["metric"] == "mae"}
    assert 0.0 <= mae["a2b2a"] <= 1.0 and mae["b2a2b"] > 1.0  # MR a.u. and CT HU


def test_a_model_without_round_trips_keeps_paired_metrics_refused_on_unpaired_data(
    registries, dirs
) -> None:
    spec = _spec(
        "identity", dataset_args={**FEW, "paired": "false"}, model_args={}, metrics=("psnr",)
    )
    with pytest.raises(UsageError, match="cannot be computed"):
        _run(registries, dirs, spec)


@pytest.mark.parametrize("model", TRANSLATORS)
def test_row_records_size_precision_and_memory_format(registries, dirs, model: str) -> None:
    result = _run(registries, dirs, _spec(model))
    row = read_leaderboard(result.leaderboard).to_pylist()[0]
    probe = probe_model(registries.models.get(model), 32, dict(NARROW[model]))
    assert row["parameters"] == probe.parameters > 0
    # The run counts its first real step; the probe counts a step on random images of the same
    # shape, so the two must agree exactly.
    assert row["flops_per_step"] == probe.flops_per_step > 0
    # The default precision (auto) is bf16 on a CPU with native bf16, fp32 on others; the row
    # records what the run trained in. CPU runs are contiguous.
    assert row["precision"] == ("bf16-mixed" if cpu_has_native_bf16() else "fp32")
    assert row["channels_last"] is False


def test_model_arguments_are_part_of_the_run_id(registries) -> None:
    ids = {
        resolve_run(_spec("hlsnc", model_args=args), registries).run_id
        for args in TABLE5_ABLATION.values()
    }
    # "HLSNC-GAN" and the resolved defaults coincide; every other row is a distinct run.
    assert len(ids) == len(TABLE5_ABLATION)
    defaults = resolve_run(_spec("hlsnc", model_args={}), registries).run_id
    explicit = resolve_run(
        _spec("hlsnc", model_args=TABLE5_ABLATION["HLSNC-GAN"]), registries
    ).run_id
    assert defaults == explicit


def test_linear_decay_reaches_the_optimizer(registries, dirs) -> None:
    result = _run(registries, dirs, _spec("cyclegan", budget=Budget(steps=4)))
    state = torch.load(result.run_dir / "checkpoint.pt", weights_only=False)["model"]
    # The 4th step ran at budget fraction 3/4: half-way down the linear decay.
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * linear_decay(0.75))
    assert linear_decay(0.75) == 0.5


def test_hlsnc_keeps_a_constant_rate(registries, dirs) -> None:
    result = _run(registries, dirs, _spec("hlsnc", budget=Budget(steps=4)))
    state = torch.load(result.run_dir / "checkpoint.pt", weights_only=False)["model"]
    group = state["opt_g"]["param_groups"][0]
    assert group["lr"] == 2e-4 and group["alpha"] == 0.9 and group["eps"] == 1e-8


# ---- refusals ----------------------------------------------------------------------------------


def test_pix2pix_is_refused_on_unpaired_data_before_training(registries, dirs) -> None:
    spec = _spec("pix2pix", dataset_args={**FEW, "paired": "false"}, metrics=("mae",))
    with pytest.raises(UsageError, match="needs paired training data") as info:
        _run(registries, dirs, spec)
    assert info.value.exit_code == 2
    assert not (dirs["runs_dir"]).exists() or not any(dirs["runs_dir"].iterdir())


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("loss", "hinge2", "hinge|lsgan|wgan-gp|bce"),
        ("norm", "group", "switchable|instance|batch|layer"),
        ("optimizer", "adagrad", "rmsprop|adam|sgd"),
        ("direction", "both", "a2b|b2a"),
    ],
)
def test_bad_ablation_value_names_the_allowed_ones(
    registries, key: str, value: str, allowed: str
) -> None:
    with pytest.raises(UsageError) as info:
        resolve_run(_spec("hlsnc", model_args={key: value}), registries)
    assert info.value.exit_code == 2 and allowed in (info.value.hint or "")


def test_unknown_model_argument_is_refused(registries) -> None:
    with pytest.raises(UnknownNameError, match="no argument 'los'") as info:
        resolve_run(_spec("cyclegan", model_args={"los": "hinge"}), registries)
    assert "loss" in (info.value.hint or "")


@pytest.mark.parametrize("model", TRANSLATORS)
def test_image_size_the_generator_cannot_keep_is_a_usage_error(
    registries, dirs, model: str
) -> None:
    with pytest.raises(UsageError, match="divisible by"):
        _run(registries, dirs, _spec(model, image_size=34))


# ---- architecture facts ------------------------------------------------------------------------


def _build(registries: Registries, name: str, args: dict[str, str], size: int = 32, **ctx: Any):
    from medganbench.run.flops import PROBE_DATASET

    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=size)
    context = ModelContext(size, info, torch.device("cpu"), 0, **ctx)
    return spec.build(args, context)


def test_cyclegan_uses_six_blocks_below_256_px_and_nine_from_256(registries) -> None:
    def blocks(model) -> int:
        return sum(type(m).__name__ == "ResnetBlock" for m in model.g_ab.modules())

    assert blocks(_build(registries, "cyclegan", {"ngf": "4", "ndf": "4"}, 128)) == 6
    assert blocks(_build(registries, "cyclegan", {"ngf": "4", "ndf": "4"}, 256)) == 9


def test_cyclegan_resnet9_generator_has_the_reference_parameter_count(registries) -> None:
    model = _build(registries, "cyclegan", {"n_blocks": "9"}, 64)
    assert model.generator_parameter_count() == 11_365_633  # ≈ 11.37 M for one channel


def test_hlsnc_uses_switchable_norm_everywhere_but_the_first_critic_layer(registries) -> None:
    model = _build(registries, "hlsnc", {"ngf": "4", "ndf": "4", "n_blocks": "2"})
    kinds = {type(m).__name__ for net in model.nets for m in net.modules()}
    assert "SwitchableNorm2d" in kinds and not kinds & {
        "InstanceNorm2d",
        "BatchNorm2d",
        "GroupNorm",
    }
    norms = [m for m in model.g_ab.modules() if isinstance(m, SwitchableNorm2d)]
    assert len(norms) == 1 + 2 + 2 * 2 + 2  # stem, two downs, two per block, two ups


@pytest.mark.parametrize("model", CYCLE_MODELS)
def test_cycle_model_trains_on_channels_last_with_bf16_autocast(registries, model: str) -> None:
    """The CUDA code path (autocast bf16 + channels-last), exercised on CPU where torch allows it."""
    m = _build(registries, model, NARROW[model], amp=True, channels_last=True)
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    batch = TrainBatch(
        x.contiguous(memory_format=torch.channels_last),
        x.flip(-1).contiguous(memory_format=torch.channels_last),
        x > 0,
        x > 0,
        False,
    )
    m.train_mode()
    losses = m.train_step(batch)
    assert all(math.isfinite(v) for v in losses.values())
    m.eval_mode()
    with torch.no_grad():
        out = m.translate(x)
    assert out.dtype == torch.float32 and out.shape == x.shape


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16"])
@pytest.mark.parametrize("model", TRANSLATORS)
def test_checkpoint_resumes_training_exactly(registries, model: str, amp: bool) -> None:
    """Everything needed to resume is in state_dict: the next step's losses match bit for bit."""
    x = torch.rand(2, 1, 1, 32, 32) * 2 - 1
    batches = [TrainBatch(x[i], x[i].flip(-1), x[i] > 0, x[i] > 0, True) for i in range(2)]
    first = _build(registries, model, NARROW[model], amp=amp)
    first.train_step(batches[0])
    buffer = io.BytesIO()
    torch.save({"model": first.state_dict(), "rng": torch.get_rng_state()}, buffer)
    expected = first.train_step(batches[1])

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    torch.manual_seed(123)  # a different construction-time RNG state
    resumed = _build(registries, model, NARROW[model], amp=amp)
    resumed.load_state_dict(saved["model"])
    torch.set_rng_state(saved["rng"])
    assert resumed.train_step(batches[1]) == expected


def test_pix2pix_paper_test_mode_is_deterministic_and_leaves_running_stats(registries) -> None:
    model = _build(registries, "pix2pix", {"ngf": "8", "ndf": "8"}, 64)  # 64 px has dropout
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    model.train_step(TrainBatch(x, x.flip(-1), x > 0, x > 0, True))
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    model.eval_mode()
    with torch.no_grad():
        one, two = model.translate(x), model.translate(x)
        alone = model.translate(x[1:2])
    model.train_mode()
    assert torch.equal(one, two)
    torch.testing.assert_close(alone, one[1:2], rtol=0, atol=1e-6)
    after = model.generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


# ---- the paper's ablation grid -------------------------------------------------------------------


@pytest.mark.parametrize("label", list(TABLE5_ABLATION))
def test_table5_row_runs_as_a_run_spec(registries, dirs, label: str) -> None:
    args = {**NARROW["hlsnc"], **TABLE5_ABLATION[label], "ngf": "4", "ndf": "4", "n_blocks": "1"}
    result = _run(registries, dirs, _spec("hlsnc", model_args=args, metrics=("psnr",)))
    row = read_leaderboard(result.leaderboard).to_pylist()[0]
    for key, value in TABLE5_ABLATION[label].items():
        assert f'"{key}":"{value}"' in row["model_args"]
    assert row["steps_done"] == 2


@pytest.mark.parametrize(
    ("model", "args"),
    [
        ("cyclegan", {}),  # instance norm, LSGAN
        ("hlsnc", {"norm": "layer"}),  # layer norm, hinge + gradient penalty
        ("pix2pix", {"norm": "instance"}),
    ],
)
def test_batched_passes_give_the_unbatched_losses(registries, model: str, args: dict) -> None:
    """One pass per network on concatenated inputs computes the same step as separate passes."""
    x = torch.rand(2, 1, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    batches = [TrainBatch(x[i], x[i].flip(-1), x[i] > 0, x[i] > 0, True) for i in range(2)]
    losses = {}
    for batched in (True, False):
        torch.manual_seed(0)
        m = _build(registries, model, {**NARROW[model], **args})
        assert m.batched_passes  # the norm allows it, so it is on by default
        m.batched_passes = batched
        m.train_mode()
        losses[batched] = [
            {k: float(v) for k, v in m.train_step(b).items()} for b in batches
        ]  # step 2 also checks the first step's gradients and update
    for one, other in zip(losses[True], losses[False], strict=True):
        assert one.keys() == other.keys()
        for name in one:
            assert math.isclose(one[name], other[name], rel_tol=1e-5, abs_tol=1e-7), name


@pytest.mark.parametrize("model", ["hlsnc", "pix2pix"])
def test_batch_statistics_keep_separate_passes(registries, model: str) -> None:
    """Switchable and batch norm mix the images of a batch: their defaults keep one pass each."""
    assert not _build(registries, model, NARROW[model]).batched_passes
