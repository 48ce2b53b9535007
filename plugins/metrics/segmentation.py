"""Segmentation utility of translated images: ``seg-dice`` and ``seg-hd95``.

Does a synthetic image segment like a real one? The harness's segmenter
(:mod:`~medganbench_plugins.metrics.segmenter`: MONAI's BasicUNet under one declared recipe),
trained on the **real** training images of the target domain with their label maps, segments the
model's outputs on the evaluation split; the segmentation is compared with the label maps of the
anatomy the outputs show (a translation keeps its input's anatomy: the source images' maps). This
is how SynthRAD2025 scores a synthetic CT by segmenting it.

Values (:mod:`~medganbench_plugins.metrics.overlap` states the Dice and HD95 conventions): per
foreground class (label 1 and up), the mean over the slices whose reference holds that class, then
the mean over those classes; per patient (rows with ``eval_unit`` ``volume``), each patient's
segmented slices as one 3-D volume, the mean over classes, then over patients. The details hold
the per-class values, the segmenter's recipe and the segmenter's own Dice on the real target
images of the same split (the ceiling a perfect translation would reach).

The segmenter is trained once per dataset, domain, recipe and seed and cached
(content-keyed safetensors in the run's feature cache); its training is evaluation time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.core.params import Param
from medganbench.core.specs import MetricSpec
from medganbench.errors import RunError
from medganbench_plugins.metrics.overlap import dice_per_class, hd95_per_class
from medganbench_plugins.metrics.segmenter import (
    SegmenterRecipe,
    build_segmenter,
    cached_segmenter,
    segment,
    train_segmenter,
)

_MODULE = "medganbench_plugins.metrics.segmentation"

#: The metric arguments that fix the segmenter (in the run id through the metric's arguments).
SEGMENTER_PARAMS: tuple[Param, ...] = (
    Param(
        "segmenter_steps",
        SegmenterRecipe().steps,
        "optimiser steps the segmenter trains for (its budget)",
        minimum=1,
    ),
    Param("segmenter_seed", 0, "seed of the segmenter's initialisation and batches"),
)


def recipe_of(args: Mapping[str, Any]) -> SegmenterRecipe:
    """The segmenter recipe the metric's arguments give (the defaults otherwise)."""
    return SegmenterRecipe(steps=int(args.get("segmenter_steps", SegmenterRecipe().steps)))


def real_segmenter(
    ctx: MetricContext,
    domain: str,
    window: tuple[float, float],
    args: Mapping[str, Any],
    channels: int = 1,
) -> torch.nn.Module:
    """The segmenter trained on the real training images of ``domain`` and their label maps,
    from the cache when it was trained before (for this dataset, domain, recipe and seed).

    Raises:
        RunError: the run gives no labelled training images.
    """
    if ctx.training_labelled is None or not ctx.label_classes:
        raise RunError("The segmentation metrics need the dataset's labelled training images.")
    recipe, seed = recipe_of(args), int(args.get("segmenter_seed", 0))
    classes = len(ctx.label_classes)
    labelled = ctx.training_labelled

    def train() -> torch.nn.Module:
        images, labels = labelled(domain)
        return train_segmenter(images, labels, classes, window, recipe, seed, ctx.device)

    key = {
        "dataset": ctx.dataset,
        "dataset_version": ctx.dataset_version,
        "dataset_fingerprint": ctx.dataset_fingerprint,
        "domain": domain,
        "split": "train",
        "window": list(window),
        "channels": channels,
        "classes": list(ctx.label_classes),
        "recipe": recipe.identity(),
        "seed": seed,
    }
    cache = ctx.cache_dir.parent if ctx.cache_dir is not None else None
    return cached_segmenter(cache, key, train, lambda: build_segmenter(channels, classes, recipe))


def foreground_mean(per_class: torch.Tensor) -> tuple[float, list[float]]:
    """(N, K) per-item, per-class values (NaN: class absent) → the mean over classes of each
    class's mean over items, and those class means (NaN for a class absent everywhere)."""
    class_means = [
        float(col[~col.isnan()].mean()) if bool((~col.isnan()).any()) else math.nan
        for col in per_class.T
    ]
    present = [v for v in class_means if not math.isnan(v)]
    if not present:
        raise RunError("No foreground class occurs in the reference label maps.")
    return sum(present) / len(present), class_means


class LabelMetric(Metric):
    """What the label metrics share: collecting outputs with the label maps of their anatomy
    (and the real targets with theirs), the classes, and segmenting with a segmenter."""

    needs = Needs.LABELS
    per_class: ClassVar[Any]  # (pred, ref, classes) -> (N, K) float64

    def reset(self) -> None:
        self._preds: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []
        self._target_labels: list[torch.Tensor] = []
        self._window: tuple[float, float] | None = None
        self._domain = ""
        self._channels = 1
        self._report = MetricReport()
        # Kept across reset(): a segmenter depends on the domain, never on the images scored.
        self._nets: dict[tuple[str, tuple[float, float], int], torch.nn.Module] = getattr(
            self, "_nets", {}
        )

    def update(self, batch: EvalBatch) -> None:
        if batch.labels is None:
            # The runner refuses datasets without label maps before training.
            raise RunError(f"{type(self).__name__} received images without label maps.")
        self._preds.append(batch.pred.detach().float().cpu())
        self._labels.append(batch.labels.cpu())
        if batch.target_labels is not None:
            self._targets.append(batch.target.detach().float().cpu())
            self._target_labels.append(batch.target_labels.cpu())
        self._window, self._domain = batch.window, batch.domain
        self._channels = int(batch.pred.shape[1])

    def _segmenter(self) -> torch.nn.Module:
        assert self._window is not None
        # Once per domain and metric instance: every compute and patient of it uses the same.
        key = (self._domain, self._window, self._channels)
        if key not in self._nets:
            self._nets[key] = real_segmenter(
                self.ctx, self._domain, self._window, self.args, self._channels
            )
        return self._nets[key]

    def _classes(self) -> list[int]:
        return list(range(1, len(self.ctx.label_classes)))

    def _score(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, list[float]]:
        assert self._window is not None
        found = segment(self._segmenter(), images, self._window)
        return foreground_mean(type(self).per_class(found[:, 0], labels[:, 0], self._classes()))

    def report(self) -> MetricReport:
        return self._report


class SegmentationMetric(LabelMetric):
    """Segment the outputs with the real-trained segmenter and compare with the label maps,
    per slice and per patient (see the module). Subclasses say which overlap function and
    direction."""

    def compute(self) -> float:
        if not self._preds:
            raise RunError(f"{type(self).__name__}: no images were evaluated.")
        value, per_class = self._score(torch.cat(self._preds), torch.cat(self._labels))
        names = self.ctx.label_classes
        details: dict[str, Any] = {
            "classes": {
                names[c]: v for c, v in zip(self._classes(), per_class, strict=True) if v == v
            },
            "segmenter": recipe_of(self.args).identity(),
            "segmenter_seed": int(self.args.get("segmenter_seed", 0)),
            "n_slices": int(sum(p.shape[0] for p in self._preds)),
        }
        if self._targets:
            real, _ = self._score(torch.cat(self._targets), torch.cat(self._target_labels))
            details["segmenter_on_real"] = real
        self._report = MetricReport(details=details)
        return value

    def score_label_volume(
        self,
        pred: torch.Tensor,
        labels: torch.Tensor,
        *,
        window: tuple[float, float],
        mask: torch.Tensor,
    ) -> float:
        """One patient: its slices (C, D, H, W) segmented, compared in 3-D with (1, D, H, W)."""
        self._window = self._window or window
        found = segment(self._segmenter(), pred.transpose(0, 1).float(), window)  # (D, 1, H, W)
        per_class = type(self).per_class(
            found[:, 0].unsqueeze(0), labels[0].unsqueeze(0), self._classes()
        )
        value, _ = foreground_mean(per_class)
        return value


class SegDice(SegmentationMetric):
    """Mean foreground Dice of the segmented outputs (higher is better)."""

    higher_is_better = True
    per_class = staticmethod(dice_per_class)
    convention = (
        "Dice per foreground class of the outputs segmented by basicunet (MONAI BasicUNet, "
        "trained on the real target-domain training images and labels under the declared "
        "recipe) against the source's label maps; class mean over items holding it, then mean "
        "over classes; segmenter_on_real in the details is its Dice on the real targets"
    )


class SegHD95(SegmentationMetric):
    """Mean foreground 95th-percentile Hausdorff distance of the segmented outputs, in pixels
    (lower is better)."""

    higher_is_better = False
    per_class = staticmethod(hd95_per_class)
    convention = (
        "HD95 in pixels of the evaluated grid per foreground class of the outputs segmented by "
        "basicunet against the source's label maps (MONAI: the larger of the two directed 95th "
        "percentiles of surface distances; reference present and prediction empty = the item's "
        "diagonal); class mean over items holding it, then mean over classes"
    )


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``seg-dice``, ``seg-hd95`` and ``tstr-dice``."""
    return [
        MetricSpec(
            name="seg-dice",
            summary="Dice of the outputs segmented by a segmenter trained on real images "
            "(segmentation utility; datasets with label maps).",
            version="1",
            factory=f"{_MODULE}:SegDice",
            params=SEGMENTER_PARAMS,
        ),
        MetricSpec(
            name="seg-hd95",
            summary="HD95 (px) of the outputs segmented by a segmenter trained on real images.",
            version="1",
            factory=f"{_MODULE}:SegHD95",
            params=SEGMENTER_PARAMS,
        ),
        MetricSpec(
            name="tstr-dice",
            summary="Train on synthetic, test on real: Dice of segmenters trained on real, "
            "translated and both training sets, on the real test split.",
            version="1",
            factory="medganbench_plugins.metrics.tstr:TSTRDice",
            params=SEGMENTER_PARAMS,
        ),
    ]
