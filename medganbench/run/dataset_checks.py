"""Refusals, before training, of what the dataset or model cannot honour: a native evaluation grid
the dataset cannot give, validation during training without validation images, label metrics
without label maps or on a sampler."""

from __future__ import annotations

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
