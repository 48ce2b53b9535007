"""``generator.json``: what rebuilds a trained generator without its dataset or its run, and
the field-by-field check of one read from elsewhere (:func:`config_from_json`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from medganbench import __version__
from medganbench.core.dataset import DatasetInfo, DomainInfo
from medganbench.core.geometry import VolumeGeometry

#: Bumped when the config's layout changes; other layouts are refused with a clear message.
CONFIG_FORMAT = 1
_TENSOR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z0-9_]{1,64}){1,16}$")


@dataclass(frozen=True)
class GeneratorConfig:
    """What rebuilds a trained generator without its dataset or its run.

    Attributes:
        run_id: the run that trained it.
        model: the registered model name; ``model_version`` its version then.
        model_args: the model's resolved arguments (every one, defaults included).
        task: ``"translate"`` or ``"sample"``.
        directions: the directions it was evaluated in, primary first.
        dataset, dataset_version, dataset_args, dataset_fingerprint: what it was trained on.
        dataset_info: the dataset's declared facts (domains with units and windows, pairing).
        image_size: the side of the images it takes and makes.
        seed: the run's seed (the model is rebuilt with it).
        precision: ``"bf16-mixed"`` or ``"fp32"``: what it was evaluated in, and is run in.
        selected_step: the step whose weights these are; ``steps_done`` the run's last step;
            ``protocol`` ``"final"`` or ``"best:METRIC@val"``.
        slice_axis, percentile: how the dataset cut volumes into slices and normalised MR
            (the toolkit's defaults for datasets that declare neither).
        weights_sha256: SHA-256 of ``generator.safetensors``.
        tensors: every tensor's name and shape.
        medganbench_version: the version that wrote the files.
    """

    run_id: str
    model: str
    model_version: str
    model_args: dict[str, Any]
    task: str
    directions: tuple[str, ...]
    dataset: str
    dataset_version: str
    dataset_args: dict[str, Any]
    dataset_fingerprint: str
    dataset_info: DatasetInfo
    image_size: int
    seed: int
    precision: str
    selected_step: int
    steps_done: int
    protocol: str
    slice_axis: int
    percentile: float
    weights_sha256: str
    tensors: dict[str, tuple[int, ...]]
    medganbench_version: str = __version__

    @property
    def amp(self) -> bool:
        """Run under bf16 autocast, as it was evaluated."""
        return self.precision == "bf16-mixed"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["dataset_info"] = info_json(self.dataset_info)
        data["directions"] = list(self.directions)
        data["tensors"] = {name: list(shape) for name, shape in self.tensors.items()}
        return {"format": CONFIG_FORMAT, **data}


def domain_json(domain: DomainInfo) -> dict[str, Any]:
    """A domain as every JSON file states it: name, modality, units, window, channels."""
    return {**asdict(domain), "window": list(domain.window)}


def info_json(info: DatasetInfo) -> dict[str, Any]:
    """A dataset's declared facts as ``generator.json`` holds them."""
    return {
        "a": domain_json(info.a),
        "b": domain_json(info.b),
        "paired": info.paired,
        "splits": list(info.splits),
        "image_size": info.image_size,
        "labels": list(info.labels),
        # Only for volumes, so the files of 2-D runs read as before.
        **({"volume": volume_json(info.volume)} if info.volume is not None else {}),
    }


def volume_json(geometry: VolumeGeometry) -> dict[str, Any]:
    """A volume dataset's geometry as ``generator.json`` holds it."""
    return {
        "size": list(geometry.size),
        "spacing": list(geometry.spacing) if geometry.spacing is not None else None,
        "orientation": geometry.orientation,
        "crop": geometry.crop,
        "whole_volumes": geometry.whole_volumes,
    }


def _volume(raw: Any) -> VolumeGeometry:
    """The geometry in ``raw``, every field checked (the geometry checks its own values)."""
    if not isinstance(raw, dict):
        raise TypeError("the volume geometry is not an object")
    size = _typed(raw, "size", list)
    if len(size) != 3 or not all(isinstance(n, int) and not isinstance(n, bool) for n in size):
        raise ValueError("the volume size is not three integers")
    if not all(1 <= n <= 4096 for n in size):
        raise ValueError(f"the volume size {size} is out of range")
    spacing = raw.get("spacing")
    if spacing is not None and (
        not isinstance(spacing, list)
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spacing)
    ):
        raise TypeError("the volume spacing is not a list of numbers")
    return VolumeGeometry(
        size=(size[0], size[1], size[2]),
        spacing=tuple(float(v) for v in spacing) if spacing is not None else None,  # type: ignore[arg-type]
        orientation=_typed(raw, "orientation", str),
        crop=_typed(raw, "crop", str),
        whole_volumes=_typed(raw, "whole_volumes", bool),
    )


def _typed(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = raw[key]
    # bool is an int in Python; an integer field must not take true/false.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{key!r} is not {getattr(kind, '__name__', kind)}")
    return value


def _domain(raw: Any) -> DomainInfo:
    if not isinstance(raw, dict):
        raise TypeError("a domain is not an object")
    low, high = (float(v) for v in _typed(raw, "window", list))
    if not low < high:
        raise ValueError("a domain's window is not low < high")
    return DomainInfo(
        name=_typed(raw, "name", str),
        modality=_typed(raw, "modality", str),
        units=_typed(raw, "units", str),
        window=(low, high),
        channels=_typed(raw, "channels", int),
    )


def config_from_json(raw: Mapping[str, Any]) -> GeneratorConfig:
    """The config in ``raw`` (parsed JSON), every field checked.

    Raises:
        KeyError, TypeError, ValueError: a field is missing, of the wrong type or out of range.
    """
    info = _typed(raw, "dataset_info", dict)
    dataset_info = DatasetInfo(
        a=_domain(info["a"]),
        b=_domain(info["b"]),
        paired=_typed(info, "paired", bool),
        splits=tuple(str(s) for s in _typed(info, "splits", list)),
        image_size=_typed(info, "image_size", int),
        labels=tuple(str(s) for s in _typed(info, "labels", list)),
        volume=_volume(info["volume"]) if "volume" in info else None,
    )
    tensors = _typed(raw, "tensors", dict)
    shapes: dict[str, tuple[int, ...]] = {}
    for name, shape in tensors.items():
        if not _TENSOR_NAME.match(name):
            raise ValueError(f"tensor name {name[:80]!r} is not <module>.<key>")
        if not isinstance(shape, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
        ):
            raise ValueError(f"tensor {name!r} has no shape")
        shapes[name] = tuple(shape)
    task = _typed(raw, "task", str)
    if task not in ("translate", "sample"):
        raise ValueError(f"task {task!r} is not translate or sample")
    directions = tuple(_typed(raw, "directions", list))
    if not directions or not all(d in ("a2b", "b2a", "a2b2a", "b2a2b") for d in directions):
        raise ValueError("directions are not a2b/b2a")
    sha = _typed(raw, "weights_sha256", str)
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValueError("weights_sha256 is not 64 hex digits")
    size = _typed(raw, "image_size", int)
    if not 8 <= size <= 4096:
        raise ValueError(f"image_size {size} is out of range")
    if _typed(raw, "slice_axis", int) not in (0, 1, 2):
        raise ValueError("slice_axis is not 0, 1 or 2")
    if not 0.0 < float(_typed(raw, "percentile", (int, float))) <= 100.0:
        raise ValueError("percentile is not in (0, 100]")
    return GeneratorConfig(
        run_id=_typed(raw, "run_id", str),
        model=_typed(raw, "model", str),
        model_version=_typed(raw, "model_version", str),
        model_args=dict(_typed(raw, "model_args", dict)),
        task=task,
        directions=directions,
        dataset=_typed(raw, "dataset", str),
        dataset_version=_typed(raw, "dataset_version", str),
        dataset_args=dict(_typed(raw, "dataset_args", dict)),
        dataset_fingerprint=_typed(raw, "dataset_fingerprint", str),
        dataset_info=dataset_info,
        image_size=size,
        seed=_typed(raw, "seed", int),
        precision=_typed(raw, "precision", str),
        selected_step=_typed(raw, "selected_step", int),
        steps_done=_typed(raw, "steps_done", int),
        protocol=_typed(raw, "protocol", str),
        slice_axis=_typed(raw, "slice_axis", int),
        percentile=float(_typed(raw, "percentile", (int, float))),
        weights_sha256=sha,
        tensors=shapes,
        medganbench_version=_typed(raw, "medganbench_version", str),
    )


__all__ = [
    "CONFIG_FORMAT",
    "GeneratorConfig",
    "config_from_json",
    "domain_json",
    "info_json",
    "volume_json",
]
