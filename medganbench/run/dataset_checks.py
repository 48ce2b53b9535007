"""Refusals, before training, of run options the dataset cannot honour: a native evaluation grid
it cannot give, validation during training without validation images."""

from __future__ import annotations

from medganbench.core.dataset import Dataset
from medganbench.core.volumes import NativeSource
from medganbench.errors import UsageError
from medganbench.run.spec import RunSpec


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
