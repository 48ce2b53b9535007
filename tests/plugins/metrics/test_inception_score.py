"""The Inception Score (``is``): the formula against an independent one, golden values, the
classifier requirement, and a run that writes an IS row.

The official Inception file (the only one with the classifier) cannot be downloaded on a
machine that reaches only a package index, so the network tests use a test classifier: the
real converted trunk of ``fid-inception`` with a seeded random ``fc``, passed through
``MEDGANBENCH_WEIGHTS_IS_INCEPTION`` under ``--allow-unverified-weights``, as any hand-placed
file of one's own would be. It checks the wiring (which layer, which weights, what goes on the
row), not ImageNet class semantics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.errors import RunError
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench.weights.sources import WeightsError
from medganbench.weights.store import resolve_weights
from medganbench_plugins.metrics.inception import FID_INCEPTION, IS_INCEPTION, LOGITS, quantise
from medganbench_plugins.metrics.inception_net import (
    InceptionFeatures,
    convert_torch_fidelity_classifier,
)
from medganbench_plugins.metrics.inception_score import InceptionScore, inception_score

CT_WINDOW = (-1024.0, 3000.0)


def _numpy_is(logits: np.ndarray, splits: int, seed: int = 2020) -> float:
    """exp(E KL(p(y|x) || p(y))) per split, averaged; written from Salimans et al.'s definition."""
    order = np.random.RandomState(seed).permutation(len(logits))
    z = logits[order].astype(np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n, scores = len(p), []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(0, keepdims=True)
        scores.append(np.exp((part * (np.log(part) - np.log(marginal))).sum(1).mean()))
    return float(np.mean(scores))


def test_score_equals_an_independent_implementation() -> None:
    logits = torch.randn(57, 1008, generator=torch.Generator().manual_seed(0)) * 3
    value, std = inception_score(logits, 10)
    assert value == pytest.approx(_numpy_is(logits.numpy(), 10), rel=1e-12)
    assert std > 0


def test_confident_evenly_spread_images_score_the_class_count() -> None:
    # Golden value: each image (almost) certain of one class, 7 classes equally often → IS = 7.
    # (-30, not -inf: torch-fidelity's p·log p is NaN for probabilities that underflow to 0.)
    logits = torch.full((70, 1008), -30.0)
    logits[torch.arange(70), torch.arange(70) % 7] = 0.0
    value, _ = inception_score(logits, 1)
    assert value == pytest.approx(7.0, rel=1e-6)


def test_identical_images_score_one() -> None:
    logits = torch.randn(1, 1008).expand(20, -1)
    assert inception_score(logits, 2)[0] == pytest.approx(1.0, abs=1e-12)


def test_fewer_images_than_splits_is_a_clear_error() -> None:
    with pytest.raises(RunError, match="at least 10 images"):
        inception_score(torch.randn(9, 1008), 10)


def test_a_trunk_without_classifier_gives_an_error_not_a_number() -> None:
    with pytest.raises(RunError, match="no usable classifier"):
        inception_score(torch.full((12, 1008), float("nan")), 10)


def test_fid_trunk_is_refused_as_is_weights(tmp_path: Path) -> None:
    # The converted fid-inception trunk is in torch-fidelity's layout but its fc is NaN.
    trunk = tmp_path / "trunk.pt"
    torch.save(resolve_weights(FID_INCEPTION).load(), trunk)
    with pytest.raises(WeightsError, match="no usable Inception classifier"):
        convert_torch_fidelity_classifier(trunk)


def test_is_weights_have_only_the_official_source() -> None:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    assert [s.url for s in IS_INCEPTION.sources] == [URL_INCEPTION_V3]  # type: ignore[attr-defined]


# ---- with the network -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real trunk with a seeded random classifier, as a converted file."""
    tensors = resolve_weights(FID_INCEPTION).load()
    gen = torch.Generator().manual_seed(0)
    tensors["fc.weight"] = torch.randn(tensors["fc.weight"].shape, generator=gen) * 0.05
    tensors["fc.bias"] = torch.zeros_like(tensors["fc.bias"])
    path = tmp_path_factory.mktemp("is-weights") / "is-inception-test.pt"
    torch.save(tensors, path)
    return path


@pytest.fixture
def is_weights(test_classifier: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(IS_INCEPTION.env_var, str(test_classifier))
    return test_classifier


@pytest.mark.slow
def test_logits_are_the_classifier_on_the_pool_features(is_weights: Path) -> None:
    weights = resolve_weights(IS_INCEPTION, unverified_ok=True)
    images = quantise(
        torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(1)) * 4024 - 1024,
        CT_WINDOW,
    )
    logits = InceptionFeatures(weights, torch.device("cpu"), layer=LOGITS)(images)
    features = InceptionFeatures(weights, torch.device("cpu"))(images)
    fc = torch.load(is_weights, weights_only=True)["fc.weight"]
    torch.testing.assert_close(logits, features @ fc.T, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_run_writes_an_is_row_with_weights_and_the_real_sets_score(
    registries, dirs, is_weights: Path
) -> None:
    spec = RunSpec(
        model="identity",
        dataset_args={
            "train_subjects": "2",
            "val_subjects": "2",
            "test_subjects": "3",
            "slices_per_subject": "4",
        },
        image_size=32,
        budget=Budget(steps=1),
        metrics=("is",),
        allow_unverified_weights=True,
    )
    result = execute_run(spec, registries, RunOptions(progress=False, **dirs))
    (row,) = read_leaderboard(result.leaderboard).to_pylist()
    details = json.loads(row["metric_details"])
    assert row["metric"] == "is" and row["higher_is_better"]
    own = resolve_weights(IS_INCEPTION, unverified_ok=True).sha256
    assert json.loads(row["weights"]) == {"is-inception": own}
    assert details["weights_unverified"] is True
    assert details["splits"] == 10 and details["n_generated"] == 12
    # identity outputs the source domain (MR) while real_is scores the CT targets.
    assert row["value"] >= 1.0 and details["real_is"] >= 1.0


@pytest.mark.slow
def test_metric_accumulates_batches(is_weights: Path) -> None:
    ct = torch.rand(12, 1, 32, 32, generator=torch.Generator().manual_seed(2)) * 4024 - 1024
    mask = torch.ones_like(ct, dtype=torch.bool)
    metric = InceptionScore({"splits": 3}, MetricContext(allow_unverified_weights=True))
    for part in ct.split(5):
        metric.update(EvalBatch(part, part, mask[: len(part)], CT_WINDOW, paired=False))
    value = metric.compute()
    details = metric.report().details
    assert details["n_generated"] == 12 and details["splits"] == 3
    # The same images as generated and real set: the two scores are the same number.
    assert value == pytest.approx(details["real_is"], rel=1e-12)
