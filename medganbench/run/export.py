"""``medganbench datasets export``: a split's inputs for code that runs elsewhere.

:func:`export_split` builds the dataset exactly as a run does and writes the inputs of one
direction of a split (``inputs/<name>.npy`` or ``.png``, named by :func:`~medganbench.run.outputs.sample_name`)
and a ``manifest.json`` saying what they are (dataset, version, arguments, fingerprint, the
input and output domains with units and windows, each sample's patient volume and slice where
the dataset has them) and what to write back for ``medganbench score``. Location arguments
(where the files are on this machine) are never written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset as TorchDataset

from medganbench import defaults
from medganbench.core.dataset import Dataset, Sample
from medganbench.core.manager import Registries
from medganbench.core.names import leads_outside
from medganbench.core.params import ArgValue
from medganbench.core.volumes import VolumeSource, item_position, split_volume_ids
from medganbench.errors import StorageError, UsageError
from medganbench.fileio import write_json
from medganbench.run.external import ExternalSpec, resolve_external
from medganbench.run.generator_config import domain_json
from medganbench.run.options import RunOptions
from medganbench.run.outputs import MANIFEST_NAME, ImageShape, sample_name, write_images
from medganbench.run.prepare import build_dataset
from medganbench.run.spec import ResolvedRun


def resolve_dataset(
    registries: Registries, dataset: str, dataset_args: Mapping[str, ArgValue], image_size: int
) -> ResolvedRun:
    """The run-shaped resolution of a dataset alone (its arguments checked, its version fixed),
    from which :func:`~medganbench.run.prepare.build_dataset` builds it as a run does.

    Raises:
        UnknownNameError, UsageError: an unknown dataset or a bad argument or image size.
    """
    spec = ExternalSpec("export", Path("."), dataset, dataset_args, image_size)
    # The metrics play no part; one is named because a run resolves with one.
    return resolve_external(spec, registries, tuple(registries.metrics.names()[:1]))


def load_split(
    registries: Registries,
    dataset: str,
    split: str = "test",
    *,
    dataset_args: Mapping[str, ArgValue] | None = None,
    image_size: int = defaults.IMAGE_SIZE,
    options: RunOptions = RunOptions(),
) -> TorchDataset[Sample]:
    """One split of a dataset, built exactly as a run builds it: items are dicts of (C, H, W)
    images in physical units (``"a"``, ``"b"``), masks, and labels where declared.

    Raises:
        UsageError: an unknown dataset, split or argument.
        DataError: the dataset cannot be built.
    """
    run = resolve_dataset(registries, dataset, dataset_args or {}, image_size)
    return _with_split(build_dataset(run, registries, options), dataset, split).split(split)


def _with_split(built: Dataset, dataset: str, split: str) -> Dataset:
    """``built``, if it has the split ``split``.

    Raises:
        UsageError: it has not (the message lists those it has).
    """
    if split not in built.info.splits:
        raise UsageError(
            f"Dataset {dataset!r} has no {split!r} split.",
            hint=f"Its splits: {', '.join(built.info.splits)}",
        )
    return built


def export_split(
    registries: Registries,
    dataset: str,
    out: Path,
    *,
    dataset_args: Mapping[str, ArgValue] | None = None,
    image_size: int = defaults.IMAGE_SIZE,
    split: str = "test",
    direction: str = "a2b",
    fmt: str = "npy",
    options: RunOptions = RunOptions(),
) -> int:
    """Write a split's inputs for ``direction`` to ``out/inputs`` and ``out/manifest.json``.

    Returns:
        The number of samples written.

    Raises:
        UsageError: an unknown split or direction, or a bad argument.
        StorageError: ``out/inputs`` leads outside ``out`` (a planted link).
        DataError: the dataset cannot be built.
    """
    inputs = out / "inputs"
    if leads_outside(out, inputs):
        # A planted link would receive every input file wherever it points.
        raise StorageError(
            f"{inputs} leads outside --out {out} (a link medganbench did not make); nothing "
            "was written through it.",
            hint=f"Remove {inputs}, or choose another --out folder.",
        )
    run = resolve_dataset(registries, dataset, dataset_args or {}, image_size)
    built = _with_split(build_dataset(run, registries, options), dataset, split)
    info = built.info
    source, target = direction[0], direction[2]
    data = built.split(split)
    # The outputs are compared with the target domain: each sample names that image's patient.
    volume_ids = (
        split_volume_ids(built, split, target, paired=info.paired)  # type: ignore[arg-type]
        if isinstance(built, VolumeSource)
        else []
    )
    samples = []
    images = []
    for index in range(len(data)):  # type: ignore[arg-type]
        item = data[index]
        name = sample_name(index)
        entry: dict[str, Any] = {"name": name}
        position = item_position(item, target) if volume_ids else None  # type: ignore[arg-type]
        if position is not None:
            entry["volume"] = volume_ids[int(position[0])]
            entry["slice"] = int(position[1])
        samples.append(entry)
        images.append((name, item[source]))
    domain = info.domain(source)  # type: ignore[arg-type]
    inputs.mkdir(parents=True, exist_ok=True)
    write_images(inputs, images, fmt, ImageShape(domain.channels, image_size, domain.window))

    def describe(key: str) -> dict[str, Any]:
        return {"key": key, **domain_json(info.domain(key))}  # type: ignore[arg-type]

    write_json(
        out / MANIFEST_NAME,
        {
            "medganbench_export": 1,
            "dataset": dataset,
            "dataset_version": run.dataset_version,
            "dataset_args": run.dataset_args,
            "dataset_fingerprint": built.fingerprint(),
            "image_size": image_size,
            "split": split,
            "direction": direction,
            "paired": info.paired,
            "inputs": describe(source),
            "outputs": describe(target),
            "format": fmt,
            "write_back": (
                "one file per sample into an outputs folder, named <name>.npy ((C, H, W) or "
                "(H, W), the outputs domain's units) or <name>.png (the outputs window mapped "
                "onto the grey range), then: medganbench score --dataset "
                f"{dataset} --direction {direction} --image-size {image_size} --outputs DIR "
                "--name NAME"
            ),
            "samples": samples,
        },
    )
    return len(samples)
