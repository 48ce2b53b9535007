"""Refusals, before training, of what the dataset or model cannot honour: a native evaluation grid
the dataset cannot give, validation during training without validation images, label metrics
without label maps or on a sampler, a model or metric of the other spatial dimensions."""

from __future__ import annotations

from typing import Any

from medganbench.core.dataset import Dataset, DatasetInfo
from medganbench.core.metric import Metric, Needs
from medganbench.core.model import Task
from medganbench.core.volumes import NativeSource
from medganbench.errors import UsageError
from medganbench.run.spec import ResolvedRun, RunSpec


def check_validation_split(spec: RunSpec, dataset: Dataset) -> None:
    """Refuse, before training, ``--eval-every`` on a dataset whose validation split is empty.

    Raises:
        UsageError: the dataset has no validation images.
    """
    if "val" not in dataset.info.splits or dataset.split_sizes().get("val", 0) == 0:
        raise UsageError(
            f"--eval-every: dataset {spec.dataset!r} has no validation images to evaluate on "
            "during training.",
            hint="Give the dataset a validation split (its val_fraction argument, where it has "
            "one), or leave out --eval-every and --select.",
        )


def check_eval_grid(spec: RunSpec, dataset: Dataset) -> None:
    """Refuse, before training, ``--eval-grid native`` on a dataset that cannot give its
    patients' slices on their native grid.

    Raises:
        UsageError: ``spec.eval_grid`` is ``"native"`` and ``dataset`` is no
            :class:`~medganbench.core.volumes.NativeSource`.
    """
    if spec.eval_grid == "native" and not isinstance(dataset, NativeSource):
        raise UsageError(
            f"--eval-grid native: dataset {spec.dataset!r} cannot give its patients' slices on "
            "their native grid.",
            hint="Datasets that read patient volumes from their files can (the paired volume "
            "datasets); for this one leave --eval-grid at image_size.",
        )


def check_labels(
    run: ResolvedRun, info: DatasetInfo, task: Task, metrics: dict[str, Metric]
) -> None:
    """Refuse, before training, a label metric (segmentation utility) that cannot be computed.

    Raises:
        UsageError: the model samples (no model here produces label maps with its images), or
            the dataset declares no label classes.
    """
    spec = run.spec
    wanting = [name for name, m in metrics.items() if m.needs is Needs.LABELS]
    if not wanting:
        return
    names = ", ".join(wanting)
    if task is Task.SAMPLE:
        raise UsageError(
            f"{names}: model {spec.model!r} samples images without label maps, so there is "
            "nothing to segment against or to train a segmenter on.",
            hint="These metrics score translation models; a sampler would have to produce "
            "label maps with its images (docs/metrics.md, 'Segmentation utility').",
        )
    if not info.labels:
        raise UsageError(
            f"{names}: dataset {spec.dataset!r} has no label maps, and these metrics segment "
            "the outputs and train a segmenter on labelled training images.",
            hint="Use a dataset with label classes: phantom-brain, acdc or brats2018 "
            "(medganbench list datasets --details).",
        )


def scores_dimensions(metric: Metric, dims: int) -> bool:
    """Whether ``metric`` can score a dataset of ``dims``-D items: it declares them, or it is a
    pixel-wise (paired or label) metric of 2-D images and the items are volumes, which it then
    scores as their axial slices and per patient (:mod:`medganbench.run.volume_slices`)."""
    declared = type(metric).spatial_dims
    if dims in declared:
        return True
    return dims == 3 and 2 in declared and metric.needs in (Needs.PAIRED, Needs.LABELS)


def check_dimensions(
    run: ResolvedRun, info: DatasetInfo, model_cls: Any, metrics: dict[str, Metric]
) -> None:
    """Refuse a 2-D model or a 2-D distribution metric on a volume dataset, and a 3-D model or
    metric on a dataset of images (see :func:`scores_dimensions`).

    Raises:
        UsageError: naming what takes which dimensions, and what would fit.
    """
    spec, dims = run.spec, info.spatial_dims
    kind = "3-D volumes" if dims == 3 else "2-D images"
    model_dims = getattr(model_cls, "spatial_dims", 2)
    if model_dims != dims:
        raise UsageError(
            f"Model {spec.model!r} works on {model_dims}-D images, but dataset {spec.dataset!r} "
            f"serves {kind}.",
            hint=(
                f"Pick a {dims}-D model (medganbench list models shows each model's "
                "dimensions) or a dataset of the model's kind."
            ),
        )
    wrong = [name for name, m in metrics.items() if not scores_dimensions(m, dims)]
    if wrong:
        raise UsageError(
            f"Metric(s) {', '.join(wrong)} do not score {kind} (dataset {spec.dataset!r}).",
            hint=(
                "Leave out --metrics to get the dataset's default metrics, or pick metrics "
                f"for {dims}-D data (medganbench list metrics)."
            ),
        )
