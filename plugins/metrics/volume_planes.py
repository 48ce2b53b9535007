"""``fd-planes``: the Fréchet distance of volumes, plane by plane, in a 2-D encoder's features.

Every generated and every real volume is cut into all of its axial, coronal and sagittal slices
(:func:`medganbench.core.geometry.plane_slices`; which array axis is which plane comes from the
dataset's declared orientation). The slices of one plane go through exactly the machinery of
the 2-D ``fd`` metric (:class:`~medganbench_plugins.metrics.feature_set.FeatureSetMetric`): the
same ``encoder`` argument and default, the same uint8 quantisation through the target window,
the same Fréchet distance (:func:`~medganbench_plugins.metrics.distribution.fid_from_features`,
torch-fidelity's formula on float64 statistics, clamped at 0) and the same cache of the real
set's features, keyed by dataset, fingerprint, split and the plane with the volumes' size and
orientation.

Readings:

* **All slices.** Every slice counts, background-only ones included: the set of slices is then
  fixed by the volume size alone, identical for every model and reproducible without a mask
  (generated volumes have none). A model that draws anatomy where the real volumes have air is
  penalised by exactly those slices. ``stride=k`` scores every k-th slice of each plane (from
  k // 2: the centre of each block of k) where encoding every slice costs too much: Inception
  takes about 0.25 s per slice on one CPU thread, so 4 volumes of 32³ are 384 slices per set.
* **Value.** The mean of the three planes' distances by default; ``plane=axial|coronal|sagittal``
  scores one plane. The report always carries all three, with the slice counts.
* **One size.** All volumes must have the size of the first batch's (each plane has one slice
  count per volume); a dataset that evaluates each patient's whole volume, whose sizes differ,
  is refused when the metric is built.
* **Noise floor.** The same quantity between two seeded halves of the real **volumes** (the
  2-D metrics' protocol, :func:`~medganbench_plugins.metrics.feature_set.split_halves`, applied
  to volume indices): slices of one volume are alike, so halving the slices would split each
  volume between the halves and understate the floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from medganbench.core.geometry import PLANES, VolumeGeometry, plane_slices
from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.core.params import Param
from medganbench.core.specs import MetricSpec
from medganbench.errors import RunError
from medganbench_plugins.metrics.distribution import fid_from_features
from medganbench_plugins.metrics.encoding import INCEPTION, WINDOW_QUANTISATION
from medganbench_plugins.metrics.feature_set import (
    INCEPTION_FEATURES,
    FeatureSetMetric,
    encoder_param,
    split_halves,
)
from medganbench_plugins.metrics.inception import QUANTISATION
from medganbench_plugins.metrics.volume_inputs import (
    check_volumes,
    one_size,
    quantise_volumes,
    volume_geometry,
)

__all__ = ["MEAN", "FDPlanes", "medganbench_metrics", "volume_slices"]

#: The ``plane`` argument's default: the mean of the three planes' distances.
MEAN = "mean"
_MEAN_PHRASE = "mean over the axial, coronal and sagittal planes of"


def slice_indices(length: int, stride: int) -> torch.Tensor:
    """The slices scored along an axis of ``length``: every one (``stride`` 1), else every
    ``stride``-th from ``stride // 2`` on (the centre of each block of ``stride`` slices)."""
    return torch.arange(stride // 2 if stride > 1 else 0, length, stride)


def volume_slices(
    volumes: torch.Tensor, geometry: VolumeGeometry, plane: str, stride: int = 1
) -> torch.Tensor:
    """uint8 ``(N, 1, D, H, W)`` volumes → their ``plane`` slices (:func:`slice_indices`) as
    encoder inputs: uint8 RGB ``(N * S, 3, h, w)``, volume by volume (the order of
    :func:`plane_slices`)."""
    axis = 2 + geometry.plane_axis(plane)
    if stride > 1:
        volumes = volumes.index_select(axis, slice_indices(volumes.shape[axis], stride))
    return plane_slices(volumes, geometry, plane).expand(-1, 3, -1, -1).contiguous()


class FDPlanes(FeatureSetMetric):
    """Fréchet distance between generated and real volumes, per plane of their slices, in a
    2-D encoder's features (lower is better)."""

    spatial_dims = (3,)
    convention = (
        f"{_MEAN_PHRASE} the Frechet distance (torch-fidelity's FID formula, float64 "
        f"statistics, clamped at 0) between all real and all generated slices of that plane on "
        f"{INCEPTION_FEATURES}; planes named from the dataset's orientation; every slice of "
        "every volume (no mask); slices quantised to uint8 through the target window, gray "
        "repeated to RGB; noise_floor = the same between two seeded halves of the real volumes"
    )

    def __init__(
        self, args: Mapping[str, Any] | None = None, ctx: MetricContext | None = None
    ) -> None:
        super().__init__(args, ctx)
        one_size(self.ctx, "fd-planes")
        self.plane = str(self.args.get("plane", MEAN))
        self.stride = int(self.args.get("stride", 1))
        if self.stride > 1:
            self.convention = self.convention.replace(
                "every slice of every volume",
                f"one slice in {self.stride} (the centre of each block) of every volume",
            )
        if self.plane != MEAN:
            self.convention = self.convention.replace(_MEAN_PHRASE, f"on the {self.plane} plane,")

    def reset(self) -> None:
        super().reset()
        self._plane_generated: dict[str, list[torch.Tensor]] = {p: [] for p in PLANES}
        self._real_volumes: list[torch.Tensor] = []
        self._plane_keys: dict[str, dict[str, Any]] = {}
        self._plane_cached: dict[str, torch.Tensor | None] = {}
        self._slices_per_volume: dict[str, int] = {}
        self._n_generated = 0
        self._shape: tuple[int, ...] | None = None

    def update(self, batch: EvalBatch) -> None:
        geometry = volume_geometry(self.ctx, "fd-planes")
        self._shape = check_volumes(batch, "fd-planes", self._shape)
        if not self._plane_keys:
            self._window = batch.window
            shared = self._cache_key(batch, self.ctx.split)
            for plane in PLANES:
                axis = geometry.plane_axis(plane)
                length = int(batch.pred.shape[2 + axis])
                self._slices_per_volume[plane] = len(slice_indices(length, self.stride))
                key = shared | {
                    "plane": plane,
                    "stride": self.stride,
                    "volume_shape": list(batch.pred.shape[2:]),
                    "orientation": geometry.orientation.upper(),
                }
                self._plane_keys[plane] = key
                self._plane_cached[plane] = self._load_cached(key)
        generated = quantise_volumes(batch.pred, batch.window)
        for plane in PLANES:
            self._plane_generated[plane].append(
                self._extract(volume_slices(generated, geometry, plane, self.stride))
            )
        self._n_generated += int(batch.pred.shape[0])
        if any(cached is None for cached in self._plane_cached.values()):
            # uint8, one channel, sliced at compute(): one copy of the real set, not three.
            self._real_volumes.append(quantise_volumes(batch.target, batch.window).cpu())

    def _plane_real(self, plane: str, geometry: VolumeGeometry) -> tuple[torch.Tensor, str]:
        cached = self._plane_cached[plane]
        if cached is not None:
            return cached, "hit"
        features, cache = self.cached_features(
            self._plane_keys[plane],
            lambda: volume_slices(torch.cat(self._real_volumes), geometry, plane, self.stride),
        )
        self._plane_cached[plane] = features
        return features, cache

    def _select(self, values: Mapping[str, float]) -> float:
        if self.plane == MEAN:
            return sum(values[p] for p in PLANES) / len(PLANES)
        return values[self.plane]

    def _halves_floor(self, real: Mapping[str, torch.Tensor], n_real: int) -> float:
        """The selected value between two seeded halves of the real volumes."""
        first, second = split_halves(torch.arange(n_real).unsqueeze(1))
        values = {}
        for plane in PLANES:
            per_volume = real[plane].reshape(n_real, self._slices_per_volume[plane], -1)
            values[plane], _ = self._score(
                per_volume[first[:, 0]].flatten(0, 1), per_volume[second[:, 0]].flatten(0, 1)
            )
        return self._select(values)

    def compute(self) -> float:
        if not self._plane_generated[PLANES[0]]:
            raise RunError("fd-planes: no volumes were evaluated.")
        geometry = volume_geometry(self.ctx, "fd-planes")
        real: dict[str, torch.Tensor] = {}
        planes: dict[str, dict[str, Any]] = {}
        for plane in PLANES:
            real[plane], cache = self._plane_real(plane, geometry)
            generated = torch.cat(self._plane_generated[plane])
            fd, _ = self._score(real[plane], generated)
            planes[plane] = {
                "fd": fd,
                "real_slices": int(real[plane].shape[0]),
                "generated_slices": int(generated.shape[0]),
                "slices_per_volume": self._slices_per_volume[plane],
                "real_features_cache": cache,
            }
        n_real = int(real[PLANES[0]].shape[0]) // self._slices_per_volume[PLANES[0]]
        value = self._select({p: planes[p]["fd"] for p in PLANES})
        floor: float | None = None
        try:
            if n_real < 2:
                raise RunError(f"two halves of the real set need 2 volumes, got {n_real}")
            floor = self._halves_floor(real, n_real)
            floor_rule = "same value between two seeded random halves of the real volumes"
        except RunError as exc:
            floor_rule = f"not available: {exc.message}"
        self._floor = floor
        self._details = {
            "plane": self.plane,
            "planes": planes,
            "orientation": geometry.orientation.upper(),
            "slices": (
                "all slices of every volume (no mask)"
                if self.stride == 1
                else f"one slice in {self.stride}, from slice {self.stride // 2} (no mask)"
            ),
            "n_real": n_real,
            "n_generated": self._n_generated,
            "real_split": self.ctx.split,
            "features": self._features_text(),
            "encoder": self.encoder.name,
            "encoder_version": self.encoder.version,
            "quantisation": QUANTISATION if self.encoder.name == INCEPTION else WINDOW_QUANTISATION,
            "window": list(self._window),
            "noise_floor": floor_rule,
            **self._weights_details(),
        }
        return value

    def _score(self, real: torch.Tensor, generated: torch.Tensor) -> tuple[float, dict[str, Any]]:
        return fid_from_features(real, generated), {}


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``fd-planes``."""
    return [
        MetricSpec(
            name="fd-planes",
            summary="Frechet distance of volumes' axial, coronal and sagittal slices in a 2-D "
            "encoder's features (3-D).",
            version="1",
            factory="medganbench_plugins.metrics.volume_planes:FDPlanes",
            params=(
                encoder_param(INCEPTION, omit_default=False),
                Param(
                    "plane",
                    MEAN,
                    "the value: mean of the three planes' distances, or one plane's",
                    choices=(MEAN, *PLANES),
                ),
                Param(
                    "stride",
                    1,
                    "score every stride-th slice of each plane (1: all; the encoder's cost "
                    "grows with the slices)",
                    minimum=1,
                    omit_default=True,
                ),
            ),
        )
    ]
