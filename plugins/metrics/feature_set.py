"""The machinery every feature-set metric shares: the encoder, its weights, the cache of the real
set's features, the noise floor and the report (see :class:`FeatureSetMetric`).

Split out of :mod:`medganbench_plugins.metrics.distribution` (which re-exports these names), so
that each module stays short; the metrics themselves are there and in
:mod:`~medganbench_plugins.metrics.manifold`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from medganbench import progress
from medganbench.core.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.core.params import Param
from medganbench.core.specs import WeightsSpec
from medganbench.errors import RunError
from medganbench.fileio import atomic_write
from medganbench.weights.store import ResolvedWeights, resolve_weights
from medganbench_plugins.metrics.encoding import (
    INCEPTION,
    WINDOW_QUANTISATION,
    encoder_spec,
    shared_encoder,
)
from medganbench_plugins.metrics.inception import EXTRACTOR, FEATURES, QUANTISATION, quantise

#: Seeds KID's subset draws and the real set's split into halves for the noise floor.
SEED = 2020


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
        key: dict[str, Any] = {
            "dataset": c.dataset,
            "dataset_version": c.dataset_version,
            "fingerprint": c.dataset_fingerprint,
            "split": split,
            "image_size": c.image_size,
            "domain": batch.domain,
            "window": list(batch.window),
            "weights_sha256": weights.sha256 if weights else "",
        }
        if self.encoder.name == INCEPTION:
            # Serialised with sorted keys: the same key, and files, as before encoders existed.
            return key | {"extractor": f"{EXTRACTOR}/{FEATURES}", "quantisation": QUANTISATION}
        return key | {
            "encoder": self.encoder.name,
            "encoder_version": self.encoder.version,
            "quantisation": WINDOW_QUANTISATION,
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
        real = images()
        # One call, as the values were measured (batching could move the features' last bits);
        # the phase keeps a heartbeat going while it runs.
        with progress.phase(
            f"extracting features of {len(real)} real image(s) ({self.encoder.name})"
        ):
            features = self._extract(real)
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
