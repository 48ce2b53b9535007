"""What the checks of several kinds share: the probe dataset, seeding, declarations, states.

Models and metrics are checked on a small ``phantom-brain`` (generated, nothing to download) at
32 px unless the caller names another dataset, 3-D models and metrics of volumes on a small
``phantom-brain-3d`` at 32³; every random draw is seeded the way the runner
seeds a run, so two checks of the same component see the same numbers.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import torch

from medganbench.core.dataset import Dataset, DatasetContext
from medganbench.core.manager import Registries
from medganbench.core.model import TrainBatch
from medganbench.core.params import resolve_args
from medganbench.core.specs import ComponentSpec
from medganbench.defaults import medganbench_home
from medganbench.errors import UsageError
from medganbench.run.device import seed_everything
from medganbench.testing.report import ContractViolation, Probe, expect

#: Side length of the images every check uses: small, so a check takes seconds on a CPU.
IMAGE_SIZE = 32
#: The dataset models and metrics are checked on, and its arguments: two subjects per split,
#: four slices each (eight test images: density and coverage need at least six).
PROBE_DATASET = "phantom-brain"
PROBE_DATASET_ARGS: Mapping[str, Any] = {
    "train_subjects": 2,
    "val_subjects": 2,
    "test_subjects": 2,
    "slices_per_subject": 4,
}

#: The dataset 3-D models and metrics of volumes are checked on (at :data:`IMAGE_SIZE`³): two
#: heads per split, four in the test split (the distribution metrics compare sets).
PROBE_VOLUME_DATASET = "phantom-brain-3d"
PROBE_VOLUME_DATASET_ARGS: Mapping[str, Any] = {
    "train_subjects": 2,
    "val_subjects": 2,
    "test_subjects": 4,
}

__all__ = [
    "IMAGE_SIZE",
    "PROBE_DATASET",
    "PROBE_DATASET_ARGS",
    "PROBE_VOLUME_DATASET",
    "PROBE_VOLUME_DATASET_ARGS",
    "probes_volumes",
    "build_dataset",
    "check_declaration",
    "differences",
    "loaded",
    "probe_dataset",
    "saved",
    "seed_everything",
    "train_batch",
]


def build_dataset(registries: Registries, name: str, args: Mapping[str, Any]) -> Dataset:
    """Dataset ``name`` at :data:`IMAGE_SIZE`, cached where a run would cache it."""
    spec = registries.datasets.get(name)
    cache = medganbench_home() / "datasets" / name
    dataset: Dataset = spec.build(
        resolve_args(spec.params, args, name), DatasetContext(IMAGE_SIZE, cache)
    )
    return dataset


def probe_dataset(probe: Probe) -> Dataset:
    """The dataset a model or metric is checked on (built once per probe)."""
    if "dataset" not in probe.made:
        default = PROBE_VOLUME_DATASET if probes_volumes(probe.spec) else PROBE_DATASET
        name = probe.options.get("dataset", default)
        # The given arguments go on top of the phantom's small defaults, or of another
        # dataset's own defaults.
        probes = {
            PROBE_DATASET: PROBE_DATASET_ARGS,
            PROBE_VOLUME_DATASET: PROBE_VOLUME_DATASET_ARGS,
        }
        args = {**probes.get(name, {}), **probe.options.get("dataset_args", {})}
        probe.made["dataset"] = build_dataset(probe.options["registries"], name, args)
    dataset: Dataset = probe.made["dataset"]
    return dataset


def probes_volumes(spec: ComponentSpec) -> bool:
    """Whether a model or metric is checked on volumes: a 3-D model, or a metric that scores
    volumes and not images (its class's ``spatial_dims``)."""
    if spec.kind not in ("model", "metric"):
        return False
    declared = getattr(spec.load(), "spatial_dims", 2)
    dims = tuple(declared) if isinstance(declared, tuple) else (int(declared),)
    return 3 in dims and 2 not in dims


def train_batch(dataset: Dataset, n: int, offset: int = 0) -> TrainBatch:
    """Training items ``offset .. offset + n - 1`` as a batch in [-1, 1], as the runner makes."""
    split = dataset.split("train")
    items = [split[(offset + i) % len(split)] for i in range(n)]  # type: ignore[arg-type]
    stack = {key: torch.stack([item[key] for item in items]) for key in items[0]}
    info = dataset.info
    return TrainBatch(
        a=info.a.to_unit(stack["a"]),
        b=info.b.to_unit(stack["b"]),
        mask_a=stack["mask_a"],
        mask_b=stack["mask_b"],
        paired=info.paired,
    )


def check_declaration(probe: Probe) -> str:
    """A version, and parameters with unique names, help text and valid defaults.

    Raises:
        ContractViolation: one of these does not hold.
    """
    spec: ComponentSpec = probe.spec
    expect(str(spec.version).strip(), "the version is empty")
    names = [param.name for param in spec.params]
    twice = sorted({n for n in names if names.count(n) > 1})
    expect(not twice, f"parameters declared twice: {', '.join(twice)}")
    for param in spec.params:
        expect(param.name.isidentifier(), f"parameter name {param.name!r} is not an identifier")
        expect(param.help.strip(), f"parameter {param.name!r} has no help text")
        expect(
            isinstance(param.default, bool | int | float | str),
            f"parameter {param.name!r}: default {param.default!r} is not a bool, int, float or str",
        )
        low, high = param.minimum, param.maximum
        expect(
            low is None or high is None or low <= high,
            f"parameter {param.name!r}: minimum {low} is above maximum {high}",
        )
        try:  # every default passes its own parameter's checks (choices, range, int64)
            param.parse(param.default, f"{probe.kind} {spec.name!r}")
        except UsageError as exc:
            raise ContractViolation(
                f"parameter {param.name!r}: its default fails its own declaration ({exc.message})"
            ) from None
    spec.resolve({})
    spec.resolve(probe.args)
    return f"version {spec.version!r}, {len(names)} parameter(s) with help and valid defaults"


def saved(state: Mapping[str, Any]) -> bytes:
    """``state`` written the way a checkpoint writes it."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return buffer.getvalue()


def loaded(data: bytes) -> dict[str, Any]:
    """What :func:`saved` wrote, read back the way a checkpoint is: ``weights_only=True``.

    Raises:
        ContractViolation: it holds something such a reader refuses.
    """
    try:
        state: dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - which object is refused is in the message
        first = " ".join(str(exc).split())[:200]
        raise ContractViolation(
            "state_dict() holds objects torch.load(weights_only=True) refuses (checkpoints "
            f"are read that way): {first}"
        ) from None
    return state


def differences(have: object, want: object, path: str = "state") -> list[str]:
    """Where two nested states differ (tensors bit for bit), as ``path: what`` lines."""
    if isinstance(want, torch.Tensor):
        if not isinstance(have, torch.Tensor) or have.shape != want.shape:
            return [f"{path}: {_describe(have)} instead of {_describe(want)}"]
        if have.dtype != want.dtype:
            return [f"{path}: dtype {have.dtype} instead of {want.dtype}"]
        if torch.equal(have, want):
            return []
        if want.is_floating_point():
            gap = (have.double() - want.double()).abs().nan_to_num(math.inf).max()
            return [f"{path}: differs by up to {float(gap):.3g}"]
        return [f"{path}: differs"]
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            return [f"{path}: {_describe(have)} instead of a mapping"]
        missing = sorted(map(str, set(want) - set(have)))
        extra = sorted(map(str, set(have) - set(want)))
        found = [f"{path}: missing {', '.join(missing)}"] if missing else []
        found += [f"{path}: unexpected {', '.join(extra)}"] if extra else []
        for key in want:
            if key in have:
                found += differences(have[key], want[key], f"{path}.{key}")
        return found
    if isinstance(want, list | tuple):
        if not isinstance(have, list | tuple) or len(have) != len(want):
            return [f"{path}: {_describe(have)} instead of {len(want)} items"]
        return [
            line
            for i, (h, w) in enumerate(zip(have, want, strict=True))
            for line in differences(h, w, f"{path}[{i}]")
        ]
    return [] if have == want else [f"{path}: {have!r} instead of {want!r}"]


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"
