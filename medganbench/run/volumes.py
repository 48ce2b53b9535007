"""Per-patient evaluation: the eval split's translated slices put back into volumes and scored
in 3-D (see :mod:`medganbench.core.volumes` for the contract).

:func:`volume_collector` decides whether a direction is evaluated per patient: the direction
compares with a pixel-wise counterpart, the dataset gives volume ids of the compared domain for
the eval split, and at least one metric scores volumes. The collector receives every evaluated batch
(:meth:`VolumeCollector.add`), then :meth:`VolumeCollector.scores` gives, per metric, the mean
over patients and a report whose details hold the per-patient values, their number and standard
deviation, and the grid the volumes were scored on (the row's ``eval_unit`` and ``eval_grid``
columns are the recorder's: :mod:`medganbench.run.record`). When the run asked for native-grid
evaluation (``--eval-grid native``, on a :class:`~medganbench.core.volumes.NativeSource`),
:meth:`VolumeCollector.native_scores` does the same on the native grid: each translated slice is
resized back to the native in-plane size (:func:`to_native`) and scored against the native
target and mask.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from medganbench import progress
from medganbench.core.dataset import Dataset, DomainKey
from medganbench.core.metric import Metric, MetricReport, Needs
from medganbench.core.volumes import (
    SLICE_KEY,
    VOLUME_KEY,
    LabelVolumeScoring,
    NativeSource,
    VolumeScoring,
    VolumeSource,
    item_position,
    slice_key,
    split_volume_ids,
    volume_key,
)
from medganbench.errors import DataError

__all__ = ["VolumeCollector", "to_native", "volume_collector"]


def to_native(pred: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Undo the datasets' slice preparation on translated slices: resize to the native square.

    A delivered slice is its native (h, w) plane padded to a centred ``max(h, w)`` square and
    resized bilinearly (antialiased when shrinking). This resizes (C, D, S, S) back to that
    square with the same kernel — bilinear, antialiased when shrinking — and crops the padding.
    Bilinear and not bicubic: it is the forward kernel, and it never overshoots, so no HU value
    outside the slice's own range appears at bone/air edges.

    Returns:
        (C, D, h, w).
    """
    h, w = shape
    side = max(h, w)
    size = pred.shape[-1]
    planes = pred.transpose(0, 1)  # (D, C, S, S)
    if side != size:
        planes = F.interpolate(
            planes.float(),
            size=(side, side),
            mode="bilinear",
            align_corners=False,
            antialias=size > side,
        ).to(pred.dtype)
    top, left = (side - h) // 2, (side - w) // 2
    return planes[..., top : top + h, left : left + w].transpose(0, 1)


@dataclass
class VolumeCollector:
    """Accumulates one direction's translated slices per patient volume.

    Attributes:
        ids: the eval split's volume ids of the compared domain (index → key).
        metrics: the metrics that score volumes, by name.
        window: the compared domain's window.
        native: the dataset, where the run asked for native-grid evaluation.
        split: the evaluated split (for ``native``).
        key: the compared domain (:func:`~medganbench.run.evaluate.compared_domain`): whose
            volume and slice indices are read from the batch (its own keys, else the shared
            ones: :func:`~medganbench.core.volumes.item_position`), and whose native slices
            are asked for.
    """

    ids: list[str]
    metrics: dict[str, Metric]
    window: tuple[float, float]
    native: NativeSource | None = None
    split: str = "test"
    key: DomainKey = "b"
    _slices: dict[
        int, list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]]
    ] = field(default_factory=lambda: defaultdict(list))

    def add(
        self,
        raw: dict[str, torch.Tensor],
        pred: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> None:
        """Keep one batch's slices (moved to the CPU) under the compared domain's volume and
        slice index, with the label maps of the anatomy they show where there are any.

        Raises:
            DataError: the batch does not say the compared domain's volume and slice.
        """
        position = item_position(raw, self.key)
        if position is None:
            raise DataError(
                "The dataset gives volume ids but its evaluation items do not say their "
                f"{volume_key(self.key)!r} and {slice_key(self.key)!r} (or {VOLUME_KEY!r} and "
                f"{SLICE_KEY!r})."
            )
        volumes, slices = position[0].tolist(), position[1].tolist()
        for i, (v, s) in enumerate(zip(volumes, slices, strict=True)):
            label = labels[i].cpu() if labels is not None else None
            self._slices[int(v)].append(
                (int(s), pred[i].cpu(), target[i].cpu(), mask[i].cpu(), label)
            )

    def _volumes(
        self,
    ) -> dict[str, tuple[int, list[int], torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per patient key: its index, slice indices, and (C, D, H, W) pred, target, mask."""
        return {k: v[:5] for k, v in self._labelled_volumes().items()}

    def _labelled_volumes(
        self,
    ) -> dict[
        str, tuple[int, list[int], torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]
    ]:
        """As :meth:`_volumes`, with each patient's (1, D, H, W) label maps, or ``None``."""
        if not self._slices:
            raise DataError("No evaluation slice said which patient volume it came from.")
        volumes = {}
        for v, items in sorted(self._slices.items()):
            if not 0 <= v < len(self.ids):
                raise DataError(f"An evaluation item names volume {v}, which the split lacks.")
            items.sort(key=lambda item: item[0])
            # (D, C, H, W) in slice order → (C, D, H, W)
            pred = torch.stack([it[1] for it in items], 1)
            target = torch.stack([it[2] for it in items], 1)
            mask = torch.stack([it[3] for it in items], 1)
            labels = (
                torch.stack([it[4] for it in items], 1)  # type: ignore[misc]
                if all(it[4] is not None for it in items)
                else None
            )
            volumes[self.ids[v]] = (v, [it[0] for it in items], pred, target, mask, labels)
        return volumes

    def _score(
        self,
        volumes: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        grid: str,
        labels: dict[str, torch.Tensor | None] | None = None,
    ) -> dict[str, tuple[float, MetricReport]]:
        out: dict[str, tuple[float, MetricReport]] = {}
        metrics = {
            n: m
            for n, m in self.metrics.items()
            if not isinstance(m, LabelVolumeScoring)
            or (labels is not None and all(v is not None for v in labels.values()))
        }
        label = f"scoring {len(volumes)} patient volume(s) on the {grid} grid"
        total = len(volumes) * len(metrics)
        with progress.phase(label, total=total, unit="scores") as shown:
            for name, metric in metrics.items():
                per_patient = {}
                for key, (p, t, m) in volumes.items():
                    if isinstance(metric, LabelVolumeScoring):
                        maps = labels[key] if labels is not None else None
                        assert maps is not None  # the metrics were filtered above
                        value = metric.score_label_volume(p, maps, window=self.window, mask=m)
                    else:
                        scorer: VolumeScoring = metric  # type: ignore[assignment]
                        value = scorer.score_volume(p, t, window=self.window, mask=m)
                    per_patient[key] = float(value)
                    shown.advance()
                out[name] = self._summary(per_patient, grid)
        return out

    def _summary(self, per_patient: dict[str, float], grid: str) -> tuple[float, MetricReport]:
        """The mean over patients and the report holding the per-patient values."""
        values = list(per_patient.values())
        finite = [x for x in values if math.isfinite(x)]
        details: dict[str, Any] = {
            "grid": grid,
            "patients": per_patient,
            "n_patients": len(values),
            "patient_std": statistics.stdev(finite) if len(finite) > 1 else 0.0,
            "slices": sum(len(items) for items in self._slices.values()),
        }
        return statistics.fmean(values), MetricReport(details=details)

    def scores(self) -> dict[str, tuple[float, MetricReport]]:
        """Per metric: the mean over patients, and the per-patient values in the details.

        Raises:
            DataError: no slice was collected, or a volume index is not in the split's ids.
        """
        labelled = self._labelled_volumes()
        volumes = {k: (p, t, m) for k, (_, _, p, t, m, _) in labelled.items()}
        return self._score(volumes, "image_size", {k: v[5] for k, v in labelled.items()})

    def native_scores(self) -> dict[str, tuple[float, MetricReport]]:
        """As :meth:`scores`, on the native grid (details say ``grid: native``); empty when the
        run did not ask for it.

        Raises:
            DataError: as :meth:`scores`, or the dataset cannot read a patient's native slices.
        """
        if self.native is None:
            return {}
        volumes = {}
        for key, (v, index, pred, _, _) in self._volumes().items():
            native = self.native.native_slices(self.split, v, self.key, index)
            shape = (int(native.target.shape[-2]), int(native.target.shape[-1]))
            resized = to_native(pred, shape).to(native.target.dtype)
            volumes[key] = (resized, native.target, native.mask)
        return self._score(volumes, "native")


def volume_collector(
    dataset: Dataset,
    split: str,
    metrics: dict[str, Metric],
    window: tuple[float, float],
    paired: bool,
    key: DomainKey = "b",
    *,
    native: bool = False,
) -> VolumeCollector | None:
    """A collector for one direction, or ``None`` when it is not evaluated per patient.

    A direction is evaluated per patient when its comparison is pixel-paired (``paired``), the
    dataset gives volume ids of the compared domain ``key`` in ``split``
    (:func:`~medganbench.core.volumes.split_volume_ids`; a dataset whose ``volume_ids`` takes
    no domain only when it is paired) and a metric scores volumes.

    Args:
        dataset: the run's dataset.
        split: the evaluated split.
        metrics: the metrics meaningful in this direction.
        window: the compared domain's window.
        paired: whether predictions have a pixel-wise counterpart in this direction (a
            translation on paired data, or a round trip).
        key: the compared domain (``"a"`` for ``a2b2a``).
        native: the run asked for native-grid evaluation too (``--eval-grid native``); the
            dataset is then a :class:`~medganbench.core.volumes.NativeSource` (checked before
            training by :func:`~medganbench.run.prepare.check_eval_grid`).
    """
    if not paired or not isinstance(dataset, VolumeSource):
        return None
    ids = split_volume_ids(dataset, split, key, paired=dataset.info.paired)
    scoring: dict[str, Metric] = {
        name: m
        for name, m in metrics.items()
        if (m.needs is Needs.PAIRED and isinstance(m, VolumeScoring))
        or (m.needs is Needs.LABELS and isinstance(m, LabelVolumeScoring))
    }
    if not ids or not scoring:
        return None
    source = dataset if native and isinstance(dataset, NativeSource) else None
    return VolumeCollector(list(ids), scoring, window, source, split, key)
