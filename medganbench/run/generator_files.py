"""The generator a run hands back: its inference weights and the config that rebuilds it.

Every run that records its rows also writes, beside ``result.json``, the weights of the networks
its model evaluates with (:meth:`~medganbench.core.model.Model.inference_modules`: no
discriminator, no optimiser state) as ``generator.safetensors``, and ``generator.json``: the
registered model, its resolved arguments and version, the image size, the dataset's declared
domains (units and windows), the precision it was evaluated in, how volumes were sliced, and the
weights file's SHA-256. ``medganbench export`` copies the same two files, so a run folder and an
export folder are read by one reader, :func:`read_generator`.

Both files may come from another machine, so reading them trusts nothing: sizes are bounded
before reading, the config is checked field by field, the weights' SHA-256 must equal the
config's, the tensor names must be ``<module>.<key>`` with identifier module names, and their
shapes must be the ones the config lists. safetensors holds tensors only: no pickle, no code.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from medganbench import __version__
from medganbench.core.dataset import DatasetInfo, DomainInfo
from medganbench.core.model import Model
from medganbench.errors import GeneratorFileError
from medganbench.fileio import write_bytes, write_json
from medganbench.run.prepare import PreparedRun
from medganbench.run.trained import TrainedRun

GENERATOR_WEIGHTS = "generator.safetensors"
GENERATOR_CONFIG = "generator.json"
#: Bumped when the config's layout changes; other layouts are refused with a clear message.
CONFIG_FORMAT = 1
#: Larger files are refused before they are read: a config is a few kB, weights a few GB at most.
MAX_CONFIG_BYTES = 1 << 20
MAX_WEIGHTS_BYTES = 16 << 30
#: Slicing defaults of datasets that declare none (the volume toolkit's own defaults).
DEFAULT_SLICE_AXIS = 2
DEFAULT_PERCENTILE = 99.5
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
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
        data["dataset_info"] = _info_json(self.dataset_info)
        data["directions"] = list(self.directions)
        data["tensors"] = {name: list(shape) for name, shape in self.tensors.items()}
        return {"format": CONFIG_FORMAT, **data}


def inference_state(model: Model) -> dict[str, torch.Tensor]:
    """The model's inference modules' tensors, flat (``<module>.<key>``), on the CPU, unshared.

    Raises:
        NotImplementedError: the model does not declare its inference modules.
        GeneratorFileError: a module name is not an identifier.
    """
    state: dict[str, torch.Tensor] = {}
    for name, module in model.inference_modules().items():
        if not _MODULE_NAME.match(name):
            raise GeneratorFileError(
                f"inference module name {name!r} is not a Python identifier.",
                hint="Name the model's inference modules like attributes (g_ab, generator).",
            )
        for key, tensor in module.state_dict().items():
            # A clone each: safetensors refuses tensors sharing memory (tied weights).
            state[f"{name}.{key}"] = tensor.detach().cpu().clone().contiguous()
    return state


def load_inference_state(model: Model, state: Mapping[str, torch.Tensor], where: str) -> None:
    """Load :func:`inference_state`'s tensors into a freshly built ``model``, strictly.

    Raises:
        GeneratorFileError: a module is missing or extra, or a tensor's name or shape differs.
    """
    modules = model.inference_modules()
    parts: dict[str, dict[str, torch.Tensor]] = {name: {} for name in modules}
    for key, tensor in state.items():
        owner, _, rest = key.partition(".")
        if owner not in parts:
            raise GeneratorFileError(
                f"{where} holds tensors of a module {owner!r} the model "
                f"{type(model).__name__} does not have (it has {', '.join(modules) or 'none'})."
            )
        parts[owner][rest] = tensor
    for name, module in modules.items():
        try:
            module.load_state_dict(parts[name], strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0:3]
            raise GeneratorFileError(
                f"{where} does not fit the model's {name!r} network: {' '.join(first)}",
                hint="The weights belong to other arguments or another version of the model.",
            ) from None


def save_run_generator(prepared: PreparedRun, trained: TrainedRun) -> bool:
    """Write the generator of a run that has just been evaluated (the model holds the weights
    evaluation scored) into its run folder.

    Returns:
        False, writing nothing, when the model does not declare its inference modules.
    """
    model, run = prepared.model, prepared.run
    try:
        state = inference_state(model)
    except NotImplementedError:
        return False
    weights, digest = encode_weights(state)
    ledger = trained.ledger
    config = GeneratorConfig(
        run_id=run.run_id,
        model=run.spec.model,
        model_version=run.model_version,
        model_args=dict(run.model_args),
        task=model.task.value,
        directions=tuple(model.eval_directions),
        dataset=run.spec.dataset,
        dataset_version=run.dataset_version,
        dataset_args=dict(run.dataset_args),
        dataset_fingerprint=prepared.fingerprint,
        dataset_info=prepared.dataset.info,
        image_size=run.spec.image_size,
        seed=run.spec.seed,
        precision=prepared.settings.precision,
        selected_step=(
            trained.selected_step if trained.selected_step is not None else ledger.steps
        ),
        steps_done=ledger.steps,
        protocol=run.spec.protocol,
        slice_axis=int(run.dataset_args.get("slice_axis", DEFAULT_SLICE_AXIS)),
        percentile=float(run.dataset_args.get("percentile", DEFAULT_PERCENTILE)),
        weights_sha256=digest,
        tensors={name: tuple(t.shape) for name, t in state.items()},
    )
    write_generator(prepared.run_dir, config, weights)
    return True


def write_generator(folder: Path, config: GeneratorConfig, weights: bytes) -> None:
    """Write ``generator.safetensors`` then ``generator.json`` into ``folder``, each atomically
    (the config last: a folder with a config has its weights)."""
    write_bytes(folder / GENERATOR_WEIGHTS, weights)
    write_json(folder / GENERATOR_CONFIG, config.to_json())


def encode_weights(state: Mapping[str, torch.Tensor]) -> tuple[bytes, str]:
    """The safetensors bytes of ``state`` and their SHA-256."""
    data = save_safetensors(dict(state), metadata={"format": "medganbench-generator"})
    return data, hashlib.sha256(data).hexdigest()


def has_generator(folder: Path) -> bool:
    """Whether ``folder`` holds a generator config (a run folder or an export)."""
    return (Path(folder) / GENERATOR_CONFIG).is_file()


def read_generator(folder: Path) -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    """The checked config and weights of a run folder or an export folder.

    Raises:
        GeneratorFileError: missing files, a file over its size limit, a malformed config, a
            weights file whose SHA-256 or tensors differ from the config's.
    """
    folder = Path(folder)
    config = read_config(folder)
    path = folder / GENERATOR_WEIGHTS
    data = _read_bounded(path, MAX_WEIGHTS_BYTES, "weights")
    digest = hashlib.sha256(data).hexdigest()
    if digest != config.weights_sha256:
        raise GeneratorFileError(
            f"{path} has SHA-256 {digest[:16]}…, but {GENERATOR_CONFIG} says "
            f"{config.weights_sha256[:16]}…: the weights are not the ones the config describes "
            "(damaged, or replaced). Nothing was loaded.",
            hint="Copy the export again from its source, or export the run again.",
        )
    try:
        state = load_safetensors(data)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise GeneratorFileError(f"{path} is not a readable safetensors file ({exc}).") from None
    found = {name: tuple(t.shape) for name, t in state.items()}
    if found != config.tensors:
        missing = sorted(set(config.tensors) - set(found))
        extra = sorted(set(found) - set(config.tensors))
        shapes = sorted(
            n for n in set(found) & set(config.tensors) if found[n] != config.tensors[n]
        )
        raise GeneratorFileError(
            f"{path} does not hold the tensors {GENERATOR_CONFIG} lists: "
            f"missing {missing[:5]}, extra {extra[:5]}, other shapes {shapes[:5]}."
        )
    return config, state


def read_config(folder: Path) -> GeneratorConfig:
    """The checked ``generator.json`` of ``folder``.

    Raises:
        GeneratorFileError: missing, too large, not JSON, another layout, or a field of the
            wrong type.
    """
    path = Path(folder) / GENERATOR_CONFIG
    if not path.is_file():
        raise GeneratorFileError(
            f"{folder} holds no {GENERATOR_CONFIG}: it is neither a run folder with a trained "
            "generator nor an export.",
            hint="Pass runs/<run id> of a run recorded by medganbench 0.2 or later, or a folder "
            "written by `medganbench export`.",
        )
    try:
        raw = json.loads(_read_bounded(path, MAX_CONFIG_BYTES, "config"))
    except (ValueError, UnicodeDecodeError):
        raise GeneratorFileError(f"{path} is not JSON.") from None
    if not isinstance(raw, dict) or raw.get("format") != CONFIG_FORMAT:
        layout = raw.get("format") if isinstance(raw, dict) else "?"
        raise GeneratorFileError(
            f"{path} is of layout {layout!r}; this medganbench reads layout {CONFIG_FORMAT}."
        )
    try:
        return _config_from_json(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise GeneratorFileError(f"{path} is malformed: {exc}.") from None


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    if path.is_symlink() or not path.is_file():
        raise GeneratorFileError(f"{path} is missing or not a plain file; no {what} was read.")
    size = path.stat().st_size
    if size > limit:
        raise GeneratorFileError(
            f"{path} is {size:,} bytes, over the {limit:,}-byte limit of a generator {what}."
        )
    return path.read_bytes()


def _info_json(info: DatasetInfo) -> dict[str, Any]:
    def domain(d: DomainInfo) -> dict[str, Any]:
        return {**asdict(d), "window": list(d.window)}

    return {
        "a": domain(info.a),
        "b": domain(info.b),
        "paired": info.paired,
        "splits": list(info.splits),
        "image_size": info.image_size,
        "labels": list(info.labels),
    }


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


def _config_from_json(raw: Mapping[str, Any]) -> GeneratorConfig:
    info = _typed(raw, "dataset_info", dict)
    dataset_info = DatasetInfo(
        a=_domain(info["a"]),
        b=_domain(info["b"]),
        paired=_typed(info, "paired", bool),
        splits=tuple(str(s) for s in _typed(info, "splits", list)),
        image_size=_typed(info, "image_size", int),
        labels=tuple(str(s) for s in _typed(info, "labels", list)),
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
    "GENERATOR_CONFIG",
    "GENERATOR_WEIGHTS",
    "GeneratorConfig",
    "encode_weights",
    "has_generator",
    "inference_state",
    "load_inference_state",
    "read_config",
    "read_generator",
    "save_run_generator",
    "write_generator",
]
