"""The memorisation audit: does the model hand back its training images?

A generator that copies its training set scores well on FID and precision, and on a small
medical dataset that is a privacy failure, not a success. For every generated image this
metric finds its nearest training image, in Inception feature space (the same features as FID)
and in pixel space, and flags the image as a copy by the rule of Alaa et al. 2022 ("How
Faithful is your Synthetic Data? Sample-level Metrics for Evaluating and Auditing Generative
Models", ICML; their *authenticity*): a generated image is flagged when it is closer to its
nearest training image than that training image is to its own nearest other training image.
The value is the fraction flagged in feature space (lower is better; a model that returns
training images scores 1). ``metric_details`` holds the same fraction in pixel space, the
median nearest-neighbour distances to the training and to the test split, and the typical
training-to-training distance; the noise floor is the fraction of the *real* evaluation images
flagged by the same rule (what held-out data score). ``nearest.png`` in the run folder shows
the most suspicious generated images (top row) above their nearest training images.
"""

from __future__ import annotations

import io

import torch
from PIL import Image

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, MetricReport
from medganbench.core.specs import MetricSpec
from medganbench.errors import RunError
from medganbench_plugins.metrics.feature_set import FeatureSetMetric
from medganbench_plugins.metrics.inception import quantise
from medganbench_plugins.metrics.manifold import kth_neighbour_radii

#: Generated images shown in nearest.png.
SHOWN = 8
RULE = (
    "flagged if closer to its nearest training image than that image is to its nearest other "
    "training image (Alaa et al. 2022, authenticity)"
)


def flagged(
    generated: torch.Tensor, train: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Apply the rule (see the module docstring) to each row of ``generated``.

    Returns:
        Per generated row: whether it is flagged, the index of its nearest training row, and
        its distance to it divided by that training row's own nearest-neighbour distance (below
        1 means flagged).

    Raises:
        RunError: fewer than two training rows.
    """
    radii = kth_neighbour_radii(train, 1)
    nearest_d, nearest_i = torch.cdist(generated.double(), train.double()).min(dim=1)
    ratio = nearest_d / radii[nearest_i].clamp_min(torch.finfo(torch.float64).tiny)
    return nearest_d < radii[nearest_i], nearest_i, ratio


def _pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) → (N, H·W) gray values in [0, 1]."""
    return images[:, 0].reshape(images.shape[0], -1).double() / 255.0


def nearest_grid(
    generated: torch.Tensor, train: torch.Tensor, ratio: torch.Tensor, nearest: torch.Tensor
) -> bytes:
    """PNG: the :data:`SHOWN` generated images with the smallest ratio (top row) above their
    nearest training images (bottom row)."""
    order = ratio.argsort()[:SHOWN]
    top, bottom = generated[order, 0], train[nearest[order], 0]
    h, w, pad = top.shape[-2], top.shape[-1], 2
    grid = torch.full((2 * h + 3 * pad, len(order) * (w + pad) + pad), 255, dtype=torch.uint8)
    for column in range(len(order)):
        x = pad + column * (w + pad)
        grid[pad : pad + h, x : x + w] = top[column]
        grid[2 * pad + h : 2 * pad + 2 * h, x : x + w] = bottom[column]
    out = io.BytesIO()
    Image.fromarray(grid.numpy(), mode="L").save(out, format="PNG")
    return out.getvalue()


class Memorisation(FeatureSetMetric):
    """Fraction of generated images that are (near-)copies of training images."""

    convention = (
        "fraction of generated images closer to their nearest training image than that image is "
        "to its nearest other training image (Alaa et al. 2022, authenticity), in "
        "inception-v3-compat pool features (2048) of uint8-quantised images; pixel-space fraction "
        "in metric_details; noise_floor = the same fraction for the real evaluation images"
    )

    def reset(self) -> None:
        super().reset()
        self._generated_images: list[torch.Tensor] = []
        self._domain: str | None = None
        self._artifacts: dict[str, bytes] = {}

    def update(self, batch: EvalBatch) -> None:
        super().update(batch)
        self._domain = batch.domain
        self._generated_images.append(quantise(batch.pred, batch.window).cpu())

    def compute(self) -> float:
        if not self._generated:
            raise RunError("Memorisation: no images were evaluated.")
        if self.ctx.training_images is None or self._key is None or self._domain is None:
            raise RunError("Memorisation needs the training images of the run's dataset.")
        train_images = quantise(self.ctx.training_images(self._domain), self._window).cpu()
        train_key = {**self._key, "split": "train"}
        train, cache = self.cached_features(train_key, lambda: train_images)
        real, _ = self._real_features()
        generated = torch.cat(self._generated)
        gen_flags, nearest, ratio = flagged(generated, train)
        real_flags, _, _ = flagged(real, train)
        generated_images = torch.cat(self._generated_images)
        pixel_flags, _, _ = flagged(_pixels(generated_images), _pixels(train_images))
        to_test = torch.cdist(generated.double(), real.double()).min(dim=1).values
        to_train = torch.cdist(generated.double(), train.double()).min(dim=1).values
        self._floor = float(real_flags.double().mean())
        self._details = {
            "rule": RULE,
            "n_generated": int(generated.shape[0]),
            "n_train": int(train.shape[0]),
            "n_real": int(real.shape[0]),
            "pixel_fraction": float(pixel_flags.double().mean()),
            "median_distance_to_train": float(to_train.median()),
            "median_distance_to_test": float(to_test.median()),
            "median_train_to_train": float(kth_neighbour_radii(train, 1).median()),
            "features": "inception-v3-compat pool 2048",
            "train_features_cache": cache,
            "noise_floor": "the same fraction for the real evaluation images",
            **self._weights_details(),
        }
        self._artifacts = {
            "nearest.png": nearest_grid(generated_images, train_images, ratio, nearest)
        }
        return float(gen_flags.double().mean())

    def report(self) -> MetricReport:
        base = super().report()
        return MetricReport(base.details, base.weights, base.noise_floor, self._artifacts)


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``memorisation``."""
    return [
        MetricSpec(
            "memorisation",
            "Fraction of outputs that copy a training image (Alaa 2022 authenticity rule).",
            "1",
            "medganbench_plugins.metrics.memorisation:Memorisation",
        )
    ]
