"""Contract tests, parametrized over every registered dataset, model and metric."""

from __future__ import annotations

import math

import pytest
import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.metric import EvalBatch, Needs
from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.core.params import resolve_args
from medganbench.defaults import medganbench_home
from medganbench.errors import UsageError
from tests.dataset_trees import contract_args

# Parametrization needs the names at collection time; each test still gets a fresh manager.
_COLLECTED = build_registries(make_plugin_manager(autoload=False))
DATASET_NAMES = _COLLECTED.datasets.names()
MODEL_NAMES = _COLLECTED.models.names()
METRIC_NAMES = _COLLECTED.metrics.names()

SIZE = 32
SMALL_PHANTOM = {
    "train_subjects": 2,
    "val_subjects": 2,
    "test_subjects": 2,
    "slices_per_subject": 2,
}


def _dataset(registries, name: str, args: dict | None = None):
    """The dataset at 32 px; without ``args``, on a generated tree in its real layout."""
    spec = registries.datasets.get(name)
    cache = medganbench_home() / "datasets" / name
    if args is None:
        args = contract_args(name, medganbench_home() / "trees", cache)
    resolved = resolve_args(spec.params, args, name)
    return spec.build(resolved, DatasetContext(SIZE, cache))


# ---- datasets -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_declares_its_pairing_and_modalities_truthfully(registries, name: str) -> None:
    # The default metrics of a run follow the declaration, made without building the dataset;
    # so do the modalities that name its directions in tables ("MR → CT").
    args = contract_args(name, medganbench_home() / "trees", medganbench_home() / "datasets" / name)
    spec = registries.datasets.get(name)
    info = _dataset(registries, name, args).info
    assert spec.is_paired(args) == info.paired
    modalities = spec.domain_modalities(args)
    assert modalities is None or modalities == (info.a.modality, info.b.modality)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_items_follow_the_contract(registries, name: str) -> None:
    dataset = _dataset(registries, name)
    info = dataset.info
    assert info.image_size == SIZE
    for split in info.splits:
        items = dataset.split(split)
        assert len(items) > 0
        item = items[0]
        for key, domain in (("a", info.a), ("b", info.b)):
            assert item[key].shape == (domain.channels, SIZE, SIZE)
            assert item[key].dtype == torch.float32
            assert item[f"mask_{key}"].shape == (1, SIZE, SIZE)
            assert item[f"mask_{key}"].dtype == torch.bool
            assert item[f"mask_{key}"].any()


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_declares_sane_domains(registries, name: str) -> None:
    info = _dataset(registries, name).info
    for domain in (info.a, info.b):
        low, high = domain.window
        assert low < high and domain.units and domain.modality and domain.channels >= 1


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_values_mostly_inside_the_window(registries, name: str) -> None:
    dataset = _dataset(registries, name)
    item = dataset.split("train")[0]
    for key, domain in (("a", dataset.info.a), ("b", dataset.info.b)):
        low, high = domain.window
        inside = ((item[key] >= low) & (item[key] <= high)).float().mean()
        assert inside > 0.99


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_paired_masks_agree(registries, name: str) -> None:
    dataset = _dataset(registries, name)
    if not dataset.info.paired:
        pytest.skip("unpaired dataset: masks belong to different subjects")
    item = dataset.split("test")[0]
    assert torch.equal(item["mask_a"], item["mask_b"])


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_fingerprint_is_stable(registries, name: str) -> None:
    first, second = (
        _dataset(registries, name).fingerprint(),
        _dataset(registries, name).fingerprint(),
    )
    assert first == second and len(first) == 16


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_unknown_split_is_a_usage_error(registries, name: str) -> None:
    with pytest.raises(UsageError):
        _dataset(registries, name).split("no-such-split")


# ---- models ---------------------------------------------------------------------------------


def _batch(dataset, n: int) -> TrainBatch:
    items = [dataset.split("train")[i] for i in range(n)]
    stack = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    info = dataset.info
    return TrainBatch(
        a=info.a.to_unit(stack["a"]),
        b=info.b.to_unit(stack["b"]),
        mask_a=stack["mask_a"],
        mask_b=stack["mask_b"],
        paired=info.paired,
    )


#: Models whose defaults cost minutes per call on two CPU cores. ddpm's default sampler runs the
#: 35.7 M-parameter denoiser 1000 times per sample: the contract is checked on a narrow
#: denoiser with a 4-step DDIM sampler (tests/plugins/models/test_ddpm.py covers the ancestral
#: sampler).
CONTRACT_ARGS: dict[str, dict[str, str]] = {
    "ddpm": {"ch": "32", "sampler": "ddim", "sample_steps": "4"},
}


def _model(registries, name: str, dataset, seed: int = 0):
    spec = registries.models.get(name)
    args = resolve_args(spec.params, CONTRACT_ARGS.get(name, {}), name)
    torch.manual_seed(seed)
    return spec.build(args, ModelContext(SIZE, dataset.info, torch.device("cpu"), seed))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_trains_steps_with_finite_losses(registries, name: str) -> None:
    dataset = _dataset(registries, "phantom-brain", SMALL_PHANTOM)
    model = _model(registries, name, dataset)
    model.train_mode()
    for _ in range(2):
        losses = model.train_step(_batch(dataset, 2))
        # Floats, or 0-dim tensors the runner reads in batches (no per-step host copy).
        assert all(
            (isinstance(v, float) or (isinstance(v, torch.Tensor) and v.ndim == 0))
            and math.isfinite(v)
            for v in losses.values()
        )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_outputs_have_target_shape_and_range(registries, name: str) -> None:
    dataset = _dataset(registries, "phantom-brain", SMALL_PHANTOM)
    model = _model(registries, name, dataset)
    batch = _batch(dataset, 2)
    model.train_step(batch)
    model.eval_mode()
    with torch.no_grad():
        if model.task is Task.TRANSLATE:
            out = model.translate(batch.a if model.direction == "a2b" else batch.b)
        else:
            out = model.sample(2, torch.Generator().manual_seed(0))
    assert out.shape == batch.b.shape
    assert torch.isfinite(out).all() and out.min() >= -1.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_state_dict_restores_outputs(registries, name: str) -> None:
    dataset = _dataset(registries, "phantom-brain", SMALL_PHANTOM)
    trained = _model(registries, name, dataset, seed=0)
    trained.train_step(_batch(dataset, 2))
    fresh = _model(registries, name, dataset, seed=1)
    fresh.load_state_dict(trained.state_dict())
    for m in (trained, fresh):
        m.eval_mode()
    source = _batch(dataset, 2).a
    with torch.no_grad():
        if trained.task is Task.TRANSLATE:
            assert torch.equal(trained.translate(source), fresh.translate(source))
        else:
            g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
            assert torch.equal(trained.sample(2, g()), fresh.sample(2, g()))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_declares_task_and_batch_size(registries, name: str) -> None:
    dataset = _dataset(registries, "phantom-brain", SMALL_PHANTOM)
    model = _model(registries, name, dataset)
    assert model.task in (Task.TRANSLATE, Task.SAMPLE)
    assert model.batch_size >= 1 and model.direction in ("a2b", "b2a")
    assert model.parameter_count() >= 0


# ---- metrics --------------------------------------------------------------------------------


#: Metrics that need an optional extra, and the modules it provides: skipped without them (the
#: message without the extra is tested in the metric's own tests).
OPTIONAL_EXTRA = {"frd": ("frd_score", "radiomics")}


def _skip_without_extra(name: str) -> None:
    for module in OPTIONAL_EXTRA.get(name, ()):
        pytest.importorskip(module, reason=f"{name} needs an optional extra")


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_declares_its_needs_and_direction(registries, name: str) -> None:
    _skip_without_extra(name)
    metric = registries.metrics.get(name).build({})
    assert metric.needs in (Needs.PAIRED, Needs.DISTRIBUTION)
    assert isinstance(metric.higher_is_better, bool)
    assert metric.convention


#: Not a "closer to the target is better" score, or one whose contract case is another metric's.
NOT_A_DISTANCE_TO_THE_TARGET = {
    "is": "reference-free: the Inception Score never looks at the target",
    "memorisation": "scores copies of the training set, not closeness to the target "
    "(tests/plugins/metrics/test_memorisation.py: training copies score ~1, noise ~0)",
    "fid-inf": "FID extrapolated in 1/N: fid's case covers the direction; ten FIDs per score "
    "are too slow here (test_manifold_metrics.py checks the extrapolation)",
    "fd": "fid's code in another encoder's features: fid's case covers the direction; its "
    "default DINOv2 weights are not reachable here (test_encoders.py: fd with inception is fid)",
}
#: Eight test images: density and coverage (k = 5) need at least six.
METRIC_PHANTOM = {**SMALL_PHANTOM, "slices_per_subject": 4}


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_prefers_the_truth_over_a_noisy_copy(registries, name: str) -> None:
    if name in NOT_A_DISTANCE_TO_THE_TARGET:
        pytest.skip(NOT_A_DISTANCE_TO_THE_TARGET[name])
    _skip_without_extra(name)
    dataset = _dataset(registries, "phantom-brain", METRIC_PHANTOM)
    items = [dataset.split("test")[i] for i in range(8)]
    target = torch.stack([it["b"] for it in items])
    mask = torch.stack([it["mask_b"] for it in items])
    window = dataset.info.b.window
    noisy = target + 200.0 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0))
    metric = registries.metrics.get(name).build({})
    scores = []
    for pred in (target.clone(), noisy):
        metric.reset()
        metric.update(EvalBatch(pred, target, mask, window, paired=True))
        scores.append(metric.compute())
    perfect, degraded = scores
    assert (perfect > degraded) if metric.higher_is_better else (perfect < degraded)
