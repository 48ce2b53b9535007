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
  get a value, and the size used is recorded.
* Each row gets a **noise floor**: the same metric between two halves of the real set (a seeded
  random split). A model whose FID differs from another's by less than this is not
  distinguishable on this data.
* Real-set features are cached under ``<cache>/features/`` per (dataset, version, fingerprint,
  split, image size, domain, window, quantisation, weights hash), written atomically, so the
  real set is embedded once per protocol, not once per run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.core.params import Param
from medganbench.core.specs import MetricSpec, WeightsSpec
from medganbench.errors import RunError
from medganbench.fileio import atomic_write
from medganbench.weights.store import ResolvedWeights, resolve_weights
from medganbench_plugins.metrics.encoding import (
    INCEPTION,
    WINDOW_QUANTISATION,
    encoder_spec,
    shared_encoder,
)
from medganbench_plugins.metrics.inception import (
    EXTRACTOR,
    FEATURES,
    FID_INCEPTION,
    QUANTISATION,
    quantise,
)

# torch-fidelity (and the Inception network) are imported inside the functions that use them:
# it pulls in torchvision, which would add more than a second to every command's start-up.

#: ``fd``'s encoder when none is given: the family Stein et al. (2023) recommend.
DEFAULT_FD_ENCODER = "dinov2-vits14"
KID_SUBSETS = 100
KID_MAX_SUBSET = 1000
#: Seeds KID's subset draws and the real set's split into halves for the noise floor.
SEED = 2020


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


def kid_from_features(real: torch.Tensor, generated: torch.Tensor) -> tuple[float, float, int]:
    """KID (mean, std over subsets, subset size) between two feature sets (N, D).

    Raises:
        RunError: fewer than two samples in a set (the unbiased estimator needs pairs).
    """
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    size = min(KID_MAX_SUBSET, real.shape[0], generated.shape[0])
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
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD]), size


def split_halves(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of a feature set into two halves (the noise-floor protocol)."""
    order = torch.randperm(features.shape[0], generator=torch.Generator().manual_seed(SEED))
    half = features.shape[0] // 2
    return features[order[:half]], features[order[half : 2 * half]]


#: The phrase of each class's convention that names the Inception features; a metric built
#: with another encoder replaces it with that encoder's name, version and summary.
INCEPTION_FEATURES = "inception-v3-compat pool features (2048)"


def encoder_param(default: str = INCEPTION, omit_default: bool = True) -> Param:
    """The ``encoder`` argument of a distribution metric (a registered encoder's name)."""
    return Param(
        "encoder",
        default,
        "the feature encoder (medganbench list metrics --details lists them)",
        omit_default=omit_default,
        component="encoder",
    )


class FeatureSetMetric(Metric):
    """A distribution metric on encoder features of the generated set and the real set.

    Shared machinery: the encoder (argument ``encoder``, Inception unless the metric declares
    the argument), its weights, feature extraction (one pass per image per evaluation, through
    the encoder's memo), the cache of real-set features, the noise floor and the report.
    Subclasses implement :meth:`_score` on (real, generated) features; the roles are never
    swapped: the real set is always the reference.
    """

    needs = Needs.DISTRIBUTION
    higher_is_better = False

    def __init__(
        self, args: Mapping[str, Any] | None = None, ctx: MetricContext | None = None
    ) -> None:
        super().__init__(args, ctx)
        self.encoder = encoder_spec(str(self.args.get("encoder", INCEPTION)), self.ctx)
        if self.encoder.name != INCEPTION:
            described = f"{self.encoder.name} v{self.encoder.version} encoder features ({self.encoder.summary})"
            self.convention = type(self).convention.replace(INCEPTION_FEATURES, described)  # type: ignore[misc]

    @property
    def weights_spec(self) -> WeightsSpec | None:
        """The encoder's weights artifact."""
        return self.encoder.weights

    def reset(self) -> None:
        self._generated: list[torch.Tensor] = []
        self._real_images: list[torch.Tensor] = []
        self._real_cached: torch.Tensor | None = None
        self._key: dict[str, Any] | None = None
        self._details: dict[str, Any] = {}
        self._floor: float | None = None

    def weights_needed(self) -> tuple[WeightsSpec, ...]:
        return () if self.weights_spec is None else (self.weights_spec,)

    def _weights(self) -> ResolvedWeights | None:
        if self.weights_spec is None:
            return None
        if not hasattr(self, "_resolved"):
            self._resolved = resolve_weights(
                self.weights_spec, unverified_ok=self.ctx.allow_unverified_weights
            )
        return self._resolved

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        return shared_encoder(self.encoder, self._weights(), self.ctx.device)(images)

    def _cache_key(self, batch: EvalBatch, split: str) -> dict[str, Any]:
        """Everything that shapes the features of one real split of the batch's domain.

        The Inception encoder keeps the key it had before encoders existed (same cache files).
        """
        c = self.ctx
        weights = self._weights()
        if self.encoder.name != INCEPTION:
            return {
                "dataset": c.dataset,
                "dataset_version": c.dataset_version,
                "fingerprint": c.dataset_fingerprint,
                "split": split,
                "image_size": c.image_size,
                "domain": batch.domain,
                "window": list(batch.window),
                "encoder": self.encoder.name,
                "encoder_version": self.encoder.version,
                "quantisation": WINDOW_QUANTISATION,
                "weights_sha256": weights.sha256 if weights else "",
            }
        return {
            "dataset": c.dataset,
            "dataset_version": c.dataset_version,
            "fingerprint": c.dataset_fingerprint,
            "split": split,
            "image_size": c.image_size,
            "domain": batch.domain,
            "window": list(batch.window),
            "extractor": f"{EXTRACTOR}/{FEATURES}",
            "quantisation": QUANTISATION,
            "weights_sha256": weights.sha256 if weights else "",
        }

    def _cache_file(self, key: dict[str, Any] | None) -> Path | None:
        if self.ctx.cache_dir is None or key is None:
            return None
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        return self.ctx.cache_dir / f"real-{digest}.pt"

    def _load_cached(self, key: dict[str, Any] | None) -> torch.Tensor | None:
        path = self._cache_file(key)
        if path is None or not path.is_file():
            return None
        features: torch.Tensor = torch.load(path, map_location="cpu", weights_only=True)["features"]
        return features

    def cached_features(
        self, key: dict[str, Any], images: Callable[[], torch.Tensor]
    ) -> tuple[torch.Tensor, str]:
        """Features of a real set, from the cache (``"hit"``) or extracted and cached (``"miss"``).

        Args:
            key: :meth:`_cache_key` of the set.
            images: the set's uint8 images, asked for only on a miss.
        """
        cached = self._load_cached(key)
        if cached is not None:
            return cached, "hit"
        features = self._extract(images())
        path = self._cache_file(key)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            payload = {"features": features, "key": json.dumps(key, sort_keys=True)}
            atomic_write(path, lambda f: torch.save(payload, f))
        return features, "miss"

    def update(self, batch: EvalBatch) -> None:
        if self._key is None:
            self._key = self._cache_key(batch, self.ctx.split)
            self._window = batch.window
            self._real_cached = self._load_cached(self._key)
        self._generated.append(self._extract(quantise(batch.pred, batch.window)))
        if self._real_cached is None:
            # Kept as uint8 and embedded at compute(): by then another metric of this
            # evaluation may have cached the real features.
            self._real_images.append(quantise(batch.target, batch.window).cpu())

    def _real_features(self) -> tuple[torch.Tensor, str]:
        if self._real_cached is not None:
            return self._real_cached, "hit"
        assert self._key is not None  # compute() runs after at least one update()
        features, cache = self.cached_features(self._key, lambda: torch.cat(self._real_images))
        self._real_cached = features
        return features, cache

    def compute(self) -> float:
        if not self._generated:
            raise RunError(f"{type(self).__name__}: no images were evaluated.")
        real, cache = self._real_features()
        generated = torch.cat(self._generated)
        value, details = self._score(real, generated)
        try:
            self._floor, _ = self._score(*split_halves(real))
            floor_rule = "same metric between two seeded random halves of the real set"
        except RunError as exc:  # a real set too small to halve for this metric
            self._floor, floor_rule = None, f"not available: {exc.message}"
        self._details = {
            **details,
            "n_real": int(real.shape[0]),
            "n_generated": int(generated.shape[0]),
            "real_split": self.ctx.split,
            "features": self._features_text(),
            "encoder": self.encoder.name,
            "encoder_version": self.encoder.version,
            "quantisation": QUANTISATION if self.encoder.name == INCEPTION else WINDOW_QUANTISATION,
            "window": list(self._window),
            "noise_floor": floor_rule,
            "real_features_cache": cache,
            **self._weights_details(),
        }
        return value

    def _features_text(self) -> str:
        if self.encoder.name == INCEPTION:
            return f"{EXTRACTOR} pool {FEATURES}"
        extractor = shared_encoder(self.encoder, self._weights(), self.ctx.device)
        return extractor.encoder.preprocessing

    def _weights_details(self) -> dict[str, Any]:
        """``{"weights_unverified": True}`` for a file that matched no pin (accepted under
        --allow-unverified-weights, or for an artifact without a pinned hash)."""
        weights = self._weights()
        return {} if weights is None or weights.verified else {"weights_unverified": True}

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        raise NotImplementedError

    def report(self) -> MetricReport:
        weights = self._weights()
        return MetricReport(
            details=self._details,
            weights={weights.name: weights.sha256} if weights else {},
            noise_floor=self._floor,
        )


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
        return mean, {"kid_std": std, "kid_subset_size": size, "kid_subsets": KID_SUBSETS}


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
