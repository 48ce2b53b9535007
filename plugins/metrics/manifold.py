"""Precision, recall, density and coverage: what a generator covers, and how faithfully.

FID folds two failures into one number: samples that do not look real (low fidelity) and real
images the model never produces (low diversity, mode collapse). These four metrics separate
them, on the same Inception features FID uses (one extraction per image per evaluation):

* **precision** (Kynkäänniemi et al. 2019, k = 3): the fraction of generated samples that fall
  inside the real manifold, estimated as the union of balls around each real sample with the
  radius of its k-th nearest real neighbour;
* **recall** (same paper, k = 3): the fraction of real samples inside the generated manifold
  (balls around generated samples, radius of their k-th nearest generated neighbour);
* **density** (Naeem et al. 2020, k = 5): how many real-sample balls contain each generated
  sample, divided by k and averaged (1 for samples distributed like the real ones; robust to
  real outliers);
* **coverage** (Naeem et al. 2020, k = 5): the fraction of real samples whose ball contains at
  least one generated sample.

The real set is always the reference — the roles are never swapped — and "inside" means a
distance strictly below the radius, as in the ``prdc`` package (tests compare with it). The
k-th nearest neighbour excludes the sample itself. Distances are Euclidean, in float64.
"""

from __future__ import annotations

from typing import Any

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import MetricSpec
from medganbench.errors import RunError
from medganbench_plugins.metrics.feature_set import FeatureSetMetric, encoder_param

PR_K = 3
DC_K = 5
#: Rows of a distance block: bounds memory at (block × n) float64 values.
_BLOCK = 1024


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between the rows of ``a`` and ``b``, float64, (len(a), len(b))."""
    a, b = a.double(), b.double()
    return torch.cat([torch.cdist(chunk, b) for chunk in a.split(_BLOCK)])


def kth_neighbour_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """For each row, the distance to its k-th nearest *other* row.

    Raises:
        RunError: fewer than ``k + 1`` rows.
    """
    n = features.shape[0]
    if n < k + 1:
        raise RunError(f"A k-NN radius with k={k} needs at least {k + 1} images, got {n}.")
    radii = []
    for start, chunk in zip(range(0, n, _BLOCK), features.double().split(_BLOCK), strict=True):
        d = torch.cdist(chunk, features.double())
        # The sample itself is at distance 0: the (k+1)-th smallest is the k-th neighbour.
        d[torch.arange(chunk.shape[0]), torch.arange(start, start + chunk.shape[0])] = 0.0
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def precision_recall(
    real: torch.Tensor, generated: torch.Tensor, k: int = PR_K
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019)."""
    real_radii, gen_radii = kth_neighbour_radii(real, k), kth_neighbour_radii(generated, k)
    d = _distances(real, generated)  # (n_real, n_generated)
    precision = (d < real_radii[:, None]).any(dim=0).double().mean()
    recall = (d < gen_radii[None, :]).any(dim=1).double().mean()
    return float(precision), float(recall)


def density_coverage(
    real: torch.Tensor, generated: torch.Tensor, k: int = DC_K
) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020)."""
    real_radii = kth_neighbour_radii(real, k)
    inside = _distances(real, generated) < real_radii[:, None]  # (n_real, n_generated)
    density = inside.sum(dim=0).double().mean() / k
    coverage = inside.any(dim=1).double().mean()
    return float(density), float(coverage)


class Precision(FeatureSetMetric):
    """Fraction of generated samples inside the real manifold (fidelity)."""

    higher_is_better = True
    convention = (
        "improved precision (Kynkäänniemi et al. 2019), k=3: fraction of generated samples "
        "within the k-th-nearest-real-neighbour radius of some real sample, on inception-v3-compat "
        "pool features (2048) of uint8-quantised images; noise_floor = the same between two "
        "seeded halves of the real split"
    )

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        return precision_recall(real, generated, PR_K)[0], {"k": PR_K}


class Recall(FeatureSetMetric):
    """Fraction of real samples inside the generated manifold (diversity)."""

    higher_is_better = True
    convention = (
        "improved recall (Kynkäänniemi et al. 2019), k=3: fraction of real samples within the "
        "k-th-nearest-generated-neighbour radius of some generated sample, on inception-v3-compat "
        "pool features (2048); noise_floor = the same between two seeded halves of the real split"
    )

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        return precision_recall(real, generated, PR_K)[1], {"k": PR_K}


class Density(FeatureSetMetric):
    """Mean number of real-sample balls holding a generated sample, over k (fidelity)."""

    higher_is_better = True
    convention = (
        "density (Naeem et al. 2020), k=5: mean over generated samples of the number of real "
        "k-NN balls containing them, divided by k, on inception-v3-compat pool features (2048); "
        "noise_floor = the same between two seeded halves of the real split"
    )

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        return density_coverage(real, generated, DC_K)[0], {"k": DC_K}


class Coverage(FeatureSetMetric):
    """Fraction of real samples whose k-NN ball holds a generated sample (diversity)."""

    higher_is_better = True
    convention = (
        "coverage (Naeem et al. 2020), k=5: fraction of real samples whose k-NN ball contains at "
        "least one generated sample, on inception-v3-compat pool features (2048); noise_floor = "
        "the same between two seeded halves of the real split"
    )

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        return density_coverage(real, generated, DC_K)[1], {"k": DC_K}


_MODULE = "medganbench_plugins.metrics.manifold"


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``precision``, ``recall``, ``density`` and ``coverage``."""
    return [
        MetricSpec(
            "precision",
            "Improved precision, k=3 (Kynkäänniemi 2019): fidelity.",
            "1",
            f"{_MODULE}:Precision",
            (encoder_param(),),
        ),
        MetricSpec(
            "recall",
            "Improved recall, k=3 (Kynkäänniemi 2019): diversity.",
            "1",
            f"{_MODULE}:Recall",
            (encoder_param(),),
        ),
        MetricSpec(
            "density",
            "Density, k=5 (Naeem 2020): fidelity, robust to outliers.",
            "1",
            f"{_MODULE}:Density",
            (encoder_param(),),
        ),
        MetricSpec(
            "coverage",
            "Coverage, k=5 (Naeem 2020): diversity, robust to outliers.",
            "1",
            f"{_MODULE}:Coverage",
            (encoder_param(),),
        ),
    ]
