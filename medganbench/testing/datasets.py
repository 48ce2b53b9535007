"""The dataset contracts: declarations, build, pairing, domains, items, window, fingerprint.

The dataset is built at 32 px with the arguments the check is given (a file-backed dataset
needs its ``root``); every split must deliver items of the declared shapes, types and masks.
"""

from __future__ import annotations

import torch

from medganbench.core.dataset import Dataset, DatasetInfo
from medganbench.errors import UsageError
from medganbench.testing.report import Contract, ContractViolation, NotApplicable, Probe, expect
from medganbench.testing.support import IMAGE_SIZE, build_dataset, check_declaration

#: Share of an image's values that must lie inside its domain's window.
INSIDE_WINDOW = 0.99


def _build_it(probe: Probe) -> Dataset:
    return build_dataset(probe.options["registries"], probe.name, probe.args)


def _build(probe: Probe) -> str:
    dataset = _build_it(probe)
    probe.made["dataset"] = dataset
    sizes = dataset.split_sizes()
    expect(dataset.info.image_size == IMAGE_SIZE, f"info.image_size is {dataset.info.image_size}")
    return f"{type(dataset).__name__} at {IMAGE_SIZE} px, splits {sizes}"


def _pairing(probe: Probe) -> str:
    declared = probe.spec.is_paired(probe.args)
    built = probe.made["dataset"].info.paired
    expect(declared == built, f"the spec says paired={declared}, the built dataset {built}")
    # Tables name directions by these modalities ("MR → CT") without building the dataset.
    modalities = probe.spec.domain_modalities(probe.args)
    info = probe.made["dataset"].info
    expect(
        modalities is None or tuple(modalities) == (info.a.modality, info.b.modality),
        f"the spec declares modalities {modalities}, the built dataset "
        f"({info.a.modality!r}, {info.b.modality!r})",
    )
    dims = probe.spec.dimensions(probe.args)
    expect(
        dims == info.spatial_dims,
        f"the spec declares {dims}-D items, the built dataset serves {info.spatial_dims}-D ones",
    )
    return (
        f"paired={built}, modalities {modalities or 'undeclared'} and {dims}-D items, as the "
        "spec declares"
    )


def _domains(probe: Probe) -> str:
    info = probe.made["dataset"].info
    for key, domain in (("a", info.a), ("b", info.b)):
        low, high = domain.window
        expect(low < high, f"domain {key}: window ({low}, {high}) is empty")
        expect(domain.units and domain.modality, f"domain {key}: units or modality is empty")
        expect(domain.channels >= 1, f"domain {key}: {domain.channels} channels")
    expect(info.splits and len(set(info.splits)) == len(info.splits), f"splits {info.splits}")
    return f"A {info.a.modality} [{info.a.units}], B {info.b.modality} [{info.b.units}]"


def _spatial(info: DatasetInfo, split: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The spatial shape an item of ``split`` must have: (32, 32), the declared volume size,
    or, for a whole-volume evaluation split, that size with the item's own axial length."""
    if info.volume is None:
        return (IMAGE_SIZE, IMAGE_SIZE)
    size = list(info.volume.size)
    if info.volume.whole_volumes and split != "train" and len(shape) == 4:
        axis = info.volume.plane_axis("axial")
        size[axis] = shape[1 + axis]
    return tuple(size)


def _items(probe: Probe) -> str:
    dataset: Dataset = probe.made["dataset"]
    info = dataset.info
    for split in info.splits:
        items = dataset.split(split)
        expect(len(items) > 0, f"split {split!r} is empty")  # type: ignore[arg-type]
        item = items[0]
        for key, domain in (("a", info.a), ("b", info.b)):
            spatial = _spatial(info, split, tuple(item[key].shape))
            shape = (domain.channels, *spatial)
            where = f"split {split!r}, item 0"
            expect(
                tuple(item[key].shape) == shape,
                f"{where}: {key} has shape {tuple(item[key].shape)}, expected {shape}",
            )
            expect(item[key].dtype == torch.float32, f"{where}: {key} is {item[key].dtype}")
            mask = item[f"mask_{key}"]
            expect(
                tuple(mask.shape) == (1, *spatial),
                f"{where}: mask_{key} has shape {tuple(mask.shape)}",
            )
            expect(mask.dtype == torch.bool, f"{where}: mask_{key} is {mask.dtype}")
            expect(mask.any(), f"{where}: mask_{key} is empty")
    kind = "(C, 32, 32)" if info.volume is None else f"(C, {', '.join(map(str, info.volume.size))})"
    return f"every split's items: a, b float32 {kind}, non-empty bool masks"


def _window(probe: Probe) -> str:
    dataset: Dataset = probe.made["dataset"]
    item = dataset.split("train" if "train" in dataset.info.splits else dataset.info.splits[0])[0]
    shares = []
    for key, domain in (("a", dataset.info.a), ("b", dataset.info.b)):
        low, high = domain.window
        inside = float(((item[key] >= low) & (item[key] <= high)).float().mean())
        expect(
            inside > INSIDE_WINDOW,
            f"only {inside:.1%} of {key}'s values lie in its window {domain.window}",
        )
        shares.append(f"{key} {inside:.1%}")
    return "values inside the window: " + ", ".join(shares)


def _paired_masks(probe: Probe) -> str:
    dataset: Dataset = probe.made["dataset"]
    if not dataset.info.paired:
        raise NotApplicable("unpaired dataset: masks belong to different subjects")
    for split in dataset.info.splits:
        item = dataset.split(split)[0]
        expect(
            torch.equal(item["mask_a"], item["mask_b"]),
            f"split {split!r}: paired items' masks differ",
        )
    return "paired items have equal masks"


def _labels(probe: Probe) -> str:
    dataset: Dataset = probe.made["dataset"]
    classes = dataset.info.labels
    if not classes:
        raise NotApplicable("the dataset declares no label classes")
    for split in dataset.info.splits:
        item = dataset.split(split)[0]
        for key in ("a", "b"):
            where = f"split {split!r}, item 0: label_{key}"
            label = item.get(f"label_{key}")
            expect(label is not None, f"{where} is missing (info.labels declares classes)")
            assert label is not None
            expect(label.dtype == torch.int64, f"{where} is {label.dtype}, expected int64")
            shape = (1, *_spatial(dataset.info, split, tuple(item[key].shape)))
            expect(tuple(label.shape) == shape, f"{where} has shape {tuple(label.shape)}")
            low, high = int(label.min()), int(label.max())
            expect(
                low >= 0 and high < len(classes),
                f"{where} holds class {high if high >= len(classes) else low}, outside the "
                f"{len(classes)} declared",
            )
    return f"{len(classes)} classes; label_a/label_b int64 label maps of the images' shape"


def _fingerprint(probe: Probe) -> str:
    first = probe.made["dataset"].fingerprint()
    second = _build_it(probe).fingerprint()
    expect(
        isinstance(first, str) and len(first) == 16, f"fingerprint {first!r} is not 16 characters"
    )
    expect(first == second, f"two builds give fingerprints {first!r} and {second!r}")
    return f"{first}, the same on a second build"


def _unknown_split(probe: Probe) -> str:
    try:
        probe.made["dataset"].split("no-such-split")
    except UsageError:
        return "an unknown split is a UsageError"
    raise ContractViolation("split('no-such-split') did not raise UsageError")


CONTRACTS: tuple[Contract, ...] = (
    Contract("build", "the factory builds a Dataset delivering 32 px images", _build),
    Contract("declares", "a version, parameters with help and valid defaults", check_declaration),
    Contract(
        "pairing",
        "the spec's pairing, modalities and dimensions agree with the built dataset's",
        _pairing,
        ("build",),
    ),
    Contract(
        "domains", "each domain declares modality, units, a window, channels", _domains, ("build",)
    ),
    Contract(
        "items",
        "items of every split have the declared shapes, dtypes and masks",
        _items,
        ("build",),
    ),
    Contract("window", "values lie (almost all) inside the declared window", _window, ("items",)),
    Contract("paired-masks", "paired items have equal masks", _paired_masks, ("items",)),
    Contract(
        "labels",
        "declared label classes come as int64 label maps within them",
        _labels,
        ("items",),
    ),
    Contract(
        "fingerprint", "a 16-character fingerprint, stable across builds", _fingerprint, ("build",)
    ),
    Contract("unknown-split", "an unknown split is a UsageError", _unknown_split, ("build",)),
)

__all__ = ["CONTRACTS"]
