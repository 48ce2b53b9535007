"""The metric contract.

A metric plugin's factory is called as ``factory(args, ctx)`` with its resolved arguments and a
:class:`MetricContext`, and returns a :class:`Metric`. A metric declares what it needs from the
data (:class:`Needs`); the runner refuses, before training, a metric whose needs the dataset
cannot supply — PSNR on an unpaired dataset, for instance, would compare images of different
anatomy and produce a meaningless number. After :meth:`Metric.compute`, :meth:`Metric.report`
says what else belongs on the leaderboard row: details of the computation, the weights used
(name and sha256) and, for distribution metrics, a noise floor.

Paired metrics derive from :class:`PairedMetric` and implement :meth:`PairedMetric.score`, a
batched per-image function that is also usable on its own from Python.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from medganbench.core.dataset import DomainInfo
from medganbench.core.geometry import VolumeGeometry
from medganbench.core.specs import EncoderSpec, WeightsSpec


class Needs(str, Enum):
    """What a metric needs to be meaningful."""

    PAIRED = "paired"  # prediction and target show the same anatomy
    DISTRIBUTION = "distribution"  # sets of generated and real images, no correspondence
    # Label maps of the anatomy a translation shows (its source's): segmentation utility.
    # Refused before training on a dataset without label maps and for a sampling model.
    LABELS = "labels"


@dataclass(frozen=True)
class MetricContext:
    """What the runner tells a metric factory.

    Attributes:
        device: where feature extractors should run.
        cache_dir: a directory the metric may cache into (e.g. real-set features); ``None``
            disables caching.
        dataset: dataset name; with the next three fields, the key of anything cached about
            the real images.
        dataset_version: the dataset plugin's version.
        dataset_fingerprint: the dataset's data fingerprint.
        split: the split whose real images are compared with (the protocol's real split).
        image_size: the evaluated image size.
        allow_unverified_weights: pass to
            :func:`~medganbench.weights.store.resolve_weights` as ``unverified_ok``: the run
            accepts an explicit weights file that matches no pin (its rows say so).
        training_images: called with a domain's name (:attr:`EvalBatch.domain`), returns every
            training-split image of that domain, (N, C, H, W) in its physical units; for
            metrics that compare outputs with what the model was trained on (memorisation).
            ``None`` outside a run.
        encoders: the registered feature encoders, name → spec (distribution metrics' ``encoder``
            argument); empty outside a run, where the built-in ones are used.
        label_classes: the dataset's label classes, index by index
            (:attr:`~medganbench.core.dataset.DatasetInfo.labels`); empty without label maps.
        training_labelled: called with a domain's name, returns every training-split image of
            that domain and its label map, ((N, C, H, W) in physical units, (N, 1, H, W)
            int64); for metrics that train a segmenter (:data:`Needs.LABELS`). ``None``
            outside a run or without label maps.
        volume: the geometry of a volume dataset's items (which array axis is which plane);
            ``None`` for 2-D images.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    cache_dir: Path | None = None
    dataset: str = ""
    dataset_version: str = ""
    dataset_fingerprint: str = ""
    split: str = "test"
    image_size: int = 0
    allow_unverified_weights: bool = False
    training_images: Callable[[str], torch.Tensor] | None = None
    encoders: Mapping[str, EncoderSpec] = field(default_factory=dict)
    label_classes: tuple[str, ...] = ()
    training_labelled: Callable[[str], tuple[torch.Tensor, torch.Tensor]] | None = None
    volume: VolumeGeometry | None = None


@dataclass(frozen=True)
class MetricReport:
    """What a metric adds to its leaderboard row besides the value.

    Attributes:
        details: facts about this computation (sample counts, subset sizes, quantisation, the
            backbone), stored as JSON in the row's ``metric_details``.
        weights: pretrained weights used, name → sha256, stored in the row's ``weights``.
        noise_floor: for distribution metrics, the value between two halves of the real set:
            differences smaller than this are not meaningful.
        artifacts: files for the run folder, name → bytes (e.g. ``"nearest.png"``); plain file
            names only. The runner writes them (a direction other than the model's primary one
            gets ``<stem>-<direction><suffix>``), and the site shows PNGs on the run page.
    """

    details: Mapping[str, Any] = field(default_factory=dict)
    weights: Mapping[str, str] = field(default_factory=dict)
    noise_floor: float | None = None
    artifacts: Mapping[str, bytes] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EvalBatch:
    """One evaluation batch, in the target domain's physical units.

    On a volume dataset every tensor has a depth axis: (N, C, D, H, W), masks (N, 1, D, H, W).

    Attributes:
        pred: generated images, (N, C, H, W).
        target: real target images, (N, C, H, W); for paired data ``target[i]`` is the
            counterpart of ``pred[i]``.
        mask: body masks of the target, bool, (N, 1, H, W).
        window: the target domain's (low, high) value window.
        paired: whether ``pred[i]`` and ``target[i]`` correspond.
        domain: the target domain's name (part of the key of cached real-set features).
        labels: int64 (N, 1, H, W) label maps of the anatomy ``pred`` shows: a translation
            keeps its input's anatomy, so these are the source images' maps; ``None`` when
            the dataset has none or the model samples.
        target_labels: int64 (N, 1, H, W) label maps of ``target``; ``None`` likewise.
    """

    pred: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor
    window: tuple[float, float]
    paired: bool
    domain: str = ""
    labels: torch.Tensor | None = None
    target_labels: torch.Tensor | None = None


@runtime_checkable
class TrainingTranslations(Protocol):
    """A metric that also needs the model's translations of the **training** split (train on
    synthetic, test on real).

    After the evaluation split's batches (:meth:`Metric.update`) and before
    :meth:`Metric.compute`, the runner translates every training item of the direction's
    source domain and hands each batch to :meth:`update_training`: ``pred`` the translation,
    ``target`` the real training image of the target domain, ``labels`` the source's label
    maps. Only in one-way translation directions, never during validation.
    """

    def update_training(self, batch: EvalBatch) -> None:
        """Accumulate one batch of translated training images."""
        ...


class Metric(ABC):
    """An accumulating metric: :meth:`reset`, :meth:`update` per batch, :meth:`compute`.

    Class attributes:
        needs: what the metric needs from the dataset.
        higher_is_better: ranking direction.
        convention: one line stating how the value is computed (written on each row).
        spatial_dims: the image dimensions it scores: ``(2,)`` (default), ``(3,)`` for a
            metric of volumes (:class:`EvalBatch` tensors (N, C, D, H, W), the geometry in
            :attr:`MetricContext.volume`), ``(2, 3)`` for one that means the same on both.
            The runner refuses a metric whose dimensions are not the dataset's before
            training. Added in 0.2.0.
    """

    needs: ClassVar[Needs]
    higher_is_better: ClassVar[bool]
    convention: ClassVar[str] = ""
    spatial_dims: ClassVar[tuple[int, ...]] = (2,)

    def __init__(
        self, args: Mapping[str, Any] | None = None, ctx: MetricContext | None = None
    ) -> None:
        self.args = dict(args or {})
        self.ctx = ctx or MetricContext()
        self.reset()

    def report(self) -> MetricReport:
        """Details, weights and noise floor of the last :meth:`compute`; default: none."""
        return MetricReport()

    def applies_to(self, target: DomainInfo) -> bool:
        """Whether this metric means something for images of ``target``; default: always.

        A metric under a challenge's convention with a fixed HU range, for instance, means
        nothing for MR targets; the runner leaves it out of such directions.
        """
        return True

    def weights_needed(self) -> tuple[WeightsSpec, ...]:
        """Pretrained weights this metric will resolve; default: none.

        The runner resolves them before training starts, so a machine that cannot obtain them
        fails in seconds with the weights manager's message, not after the training budget.
        """
        return ()

    @abstractmethod
    def reset(self) -> None:
        """Forget all accumulated batches."""

    @abstractmethod
    def update(self, batch: EvalBatch) -> None:
        """Accumulate one batch."""

    @abstractmethod
    def compute(self) -> float:
        """Return the metric over all batches since :meth:`reset`.

        Raises:
            medganbench.errors.RunError: nothing was accumulated.
        """


class PairedMetric(Metric):
    """A metric computed per image pair and averaged over images."""

    needs = Needs.PAIRED

    def reset(self) -> None:
        self._values: list[torch.Tensor] = []

    def update(self, batch: EvalBatch) -> None:
        if not batch.paired:
            # The runner refuses this before training; reaching it here is a bug.
            raise AssertionError(f"{type(self).__name__} received unpaired images")
        self._values.append(
            self.score(batch.pred, batch.target, window=batch.window, mask=batch.mask)
            .double()
            .cpu()
        )

    def compute(self) -> float:
        from medganbench.errors import RunError

        if not self._values:
            raise RunError(f"{type(self).__name__}: no images were evaluated.")
        return float(torch.cat(self._values).mean())

    @abstractmethod
    def score(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        *,
        window: tuple[float, float],
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Score each image pair.

        Args:
            pred: (N, C, H, W) predictions in physical units.
            target: (N, C, H, W) targets in the same units.
            window: (low, high): both images are clipped to it; ``high - low`` is the range.
            mask: optional bool (N, 1, H, W); only pixels inside it count.

        Returns:
            A float64 tensor of shape (N,), one value per image.
        """
