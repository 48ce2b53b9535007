"""Distribution metrics: FID and KID on Inception features, through torch-fidelity.

Both compare the set of generated images with the set of real images of the protocol's real
split (for translation: the real target-domain images of the evaluated split; for synthesis:
the split the run names, recorded as ``real_split``). Features come from
:mod:`medganbench_plugins.metrics.inception`; the statistics and the metrics themselves are
torch-fidelity's (``fid_features_to_statistics``, ``fid_statistics_to_metric``,
``kid_features_to_metric``).

* FID is clamped at 0 (the matrix square root's round-off can push a perfect match slightly
  below).
* KID uses torch-fidelity's polynomial kernel (degree 3, γ = 1/d, coef 1) over 100 random
  subsets; the subset size is ``min(1000, n_real, n_generated)`` so small evaluation sets still
  get a value, and the size used is recorded. The standard deviation over the subsets
  (``kid_std``) is recorded only where the subsets are real subsets of both sets (the subset
  size below both set sizes): where a subset is the whole of a set, as in every evaluation of
  up to 1000 images, the subsets repeat that set and their spread (float rounding, ~1e-16,
  when both sets are whole) would read as a certainty that nothing measured.
* Each row gets a **noise floor**: the same metric between two halves of the real set (a seeded
  random split). A model whose FID differs from another's by less than this is not
  distinguishable on this data.
* Real-set features are cached under ``<cache>/features/`` per (dataset, version, fingerprint,
  split, image size, domain, window, quantisation, weights hash), written atomically, so the
  real set is embedded once per protocol, not once per run.
"""

from __future__ import annotations

from typing import Any

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import MetricSpec, WeightsSpec
from medganbench.errors import RunError
from medganbench_plugins.metrics.feature_set import (
    INCEPTION_FEATURES,
    SEED,
    FeatureSetMetric,
    encoder_param,
    split_halves,
)
from medganbench_plugins.metrics.inception import FID_INCEPTION

__all__ = [
    "FD",
    "FID",
    "KID",
    "SEED",
    "FIDInfinity",
    "FeatureSetMetric",
    "encoder_param",
    "fid_from_features",
    "fid_infinity",
    "kid_from_features",
    "split_halves",
]

# torch-fidelity (and the Inception network) are imported inside the functions that use them:
# it pulls in torchvision, which would add more than a second to every command's start-up.

#: ``fd``'s encoder when none is given: the family Stein et al. (2023) recommend.
DEFAULT_FD_ENCODER = "dinov2-vits14"
KID_SUBSETS = 100
KID_MAX_SUBSET = 1000


def fid_from_features(real: torch.Tensor, generated: torch.Tensor) -> float:
    """FID between two feature sets (N, D), clamped at 0.

    Raises:
        RunError: fewer than two samples in a set (no covariance).
    """
    for name, f in (("real", real), ("generated", generated)):
        if f.shape[0] < 2:
            raise RunError(f"FID needs at least 2 {name} images, got {f.shape[0]}.")
    from torch_fidelity.metric_fid import (
        KEY_METRIC_FID,
        fid_features_to_statistics,
        fid_statistics_to_metric,
    )

    # float64 statistics: 2048×2048 covariances of float32 features lose digits in the sqrtm.
    stats = [fid_features_to_statistics(f.double()) for f in (real, generated)]
    return max(
        0.0, float(fid_statistics_to_metric(stats[0], stats[1], verbose=False)[KEY_METRIC_FID])
    )


#: Points of the FID∞ fit, and the smallest subset as a fraction of the generated set.
FID_INF_POINTS = 10
FID_INF_SMALLEST = 0.2
#: Fewer generated images than this give no FID∞: the fit would rest on a handful of points.
FID_INF_MIN_IMAGES = 20


def fid_infinity(real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
    """FID∞ (Chong & Forsyth 2020): FID extrapolated to an infinite generated set.

    FID is biased upward by ``1/N`` (N = generated images). FID is computed against the full
    real set for :data:`FID_INF_POINTS` seeded random subsets of the generated set, of sizes
    evenly spaced from :data:`FID_INF_SMALLEST` of it to all of it; a least-squares line of FID
    against ``1/N`` is extrapolated to ``1/N = 0``. The value is clamped at 0, like FID.

    Returns:
        The value, and the fit's sizes, FIDs, slope and intercept (for ``metric_details``).

    Raises:
        RunError: fewer than :data:`FID_INF_MIN_IMAGES` generated images.
    """
    n = generated.shape[0]
    if n < FID_INF_MIN_IMAGES:
        raise RunError(f"FID∞ needs at least {FID_INF_MIN_IMAGES} generated images, got {n}.")
    from torch_fidelity.metric_fid import (
        KEY_METRIC_FID,
        fid_features_to_statistics,
        fid_statistics_to_metric,
    )

    real_stats = fid_features_to_statistics(real.double())
    sizes = sorted(
        {int(round(s)) for s in torch.linspace(FID_INF_SMALLEST * n, n, FID_INF_POINTS).tolist()}
    )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SEED))
    fids = []
    for size in sizes:
        subset = generated[order[:size]].double()
        stats = fid_features_to_statistics(subset)
        fids.append(
            float(fid_statistics_to_metric(real_stats, stats, verbose=False)[KEY_METRIC_FID])
        )
    x = torch.tensor([1.0 / s for s in sizes], dtype=torch.float64)
    y = torch.tensor(fids, dtype=torch.float64)
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    intercept = float(y.mean() - slope * x.mean())
    return max(0.0, intercept), {
        "fit_sizes": sizes,
        "fit_fids": fids,
        "fit_slope": slope,
        "fit_intercept": intercept,
    }


def kid_from_features(
    real: torch.Tensor, generated: torch.Tensor, max_subset: int = KID_MAX_SUBSET
) -> tuple[float, float | None, int]:
    """KID between two feature sets (N, D): the mean over :data:`KID_SUBSETS` random subsets of
    ``min(max_subset, n_real, n_generated)`` features of each set, the standard deviation over
    those subsets, and the subset size.

    The standard deviation is ``None`` unless the subset size is below both set sizes: a subset
    as large as its set is that set, in every draw, so the spread would not be one of subsets.

    Raises:
        RunError: fewer than two samples in a set (the unbiased estimator needs pairs).
    """
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    size = min(max_subset, real.shape[0], generated.shape[0])
    if size < 2:
        raise RunError(
            f"KID needs at least 2 real and 2 generated images, got {real.shape[0]} and {generated.shape[0]}."
        )
    out = kid_features_to_metric(
        real.double(),
        generated.double(),
        kid_subsets=KID_SUBSETS,
        kid_subset_size=size,
        rng_seed=SEED,
        verbose=False,
    )
    subsets = size < real.shape[0] and size < generated.shape[0]
    std = float(out[KEY_METRIC_KID_STD]) if subsets else None
    return float(out[KEY_METRIC_KID_MEAN]), std, size


class FID(FeatureSetMetric):
    """Fréchet Inception Distance between generated and real images (lower is better)."""

    convention = (
        "FID (torch-fidelity) on inception-v3-compat pool features (2048); images quantised to "
        "uint8 through the target window, gray repeated to RGB; clamped at 0; noise_floor = FID "
        "between two seeded halves of the real split"
    )

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        return fid_from_features(real, generated), {}


class FD(FID):
    """Fréchet distance between generated and real images in the features of any registered
    encoder (``encoder=inception`` gives exactly ``fid``)."""

    convention = (
        "Frechet distance (torch-fidelity's FID formula, float64 statistics) on "
        f"{INCEPTION_FEATURES}; images quantised to uint8 through the target window, gray "
        "repeated to RGB; clamped at 0; noise_floor = the same between two seeded halves of the "
        "real split"
    )


class KID(FeatureSetMetric):
    """Kernel Inception Distance (unbiased MMD², polynomial kernel) between generated and real."""

    convention = (
        "KID mean over 100 subsets (torch-fidelity, poly kernel degree 3, gamma 1/d, coef 1) on "
        "inception-v3-compat pool features (2048); subset size min(1000, n_real, n_generated); "
        "images quantised to uint8 through the target window; noise_floor = KID between two "
        "seeded halves of the real split"
    )

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        mean, std, size = kid_from_features(real, generated)
        spread = {} if std is None else {"kid_std": std}
        return mean, {**spread, "kid_subset_size": size, "kid_subsets": KID_SUBSETS}


class FIDInfinity(FeatureSetMetric):
    """FID extrapolated to infinitely many generated images (Chong & Forsyth 2020)."""

    convention = (
        "FID-infinity (Chong & Forsyth 2020): FID (torch-fidelity) of 10 seeded random subsets "
        "of the generated set (20% to 100% of it, evenly spaced) against the full real split, "
        "least-squares line in 1/N extrapolated to 1/N=0, clamped at 0; inception-v3-compat pool "
        "features (2048) of uint8-quantised images; fit sizes and FIDs in metric_details; "
        "noise_floor = the same between two seeded halves of the real split"
    )

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        return fid_infinity(real, generated)


_MODULE = "medganbench_plugins.metrics.distribution"


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``fid``, ``fd``, ``fid-inf`` and ``kid``."""
    return [
        MetricSpec(
            name="fid",
            summary="Fréchet Inception Distance (torch-fidelity), with a real-vs-real noise floor.",
            version="1",
            factory=f"{_MODULE}:FID",
        ),
        MetricSpec(
            name="fd",
            summary="Fréchet distance in a chosen encoder's features (fd.encoder=dinov2-vits14, ...).",
            version="1",
            factory=f"{_MODULE}:FD",
            params=(encoder_param(DEFAULT_FD_ENCODER, omit_default=False),),
        ),
        MetricSpec(
            name="fid-inf",
            summary="FID extrapolated to infinitely many generated images (Chong & Forsyth 2020).",
            version="1",
            factory=f"{_MODULE}:FIDInfinity",
        ),
        MetricSpec(
            name="kid",
            summary="Kernel Inception Distance (torch-fidelity), subset size adapted to small sets.",
            version="1",
            factory=f"{_MODULE}:KID",
            params=(encoder_param(),),
        ),
    ]


@hookimpl
def medganbench_weights() -> list[WeightsSpec]:
    """Register the ``fid-inception`` artifact."""
    return [FID_INCEPTION]
