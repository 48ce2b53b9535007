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
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from medganbench.core.model import Model
from medganbench.errors import GeneratorFileError
from medganbench.fileio import write_bytes, write_json
from medganbench.run.generator_config import CONFIG_FORMAT, GeneratorConfig, config_from_json
from medganbench.run.prepare import PreparedRun
from medganbench.run.trained import TrainedRun

GENERATOR_WEIGHTS = "generator.safetensors"
GENERATOR_CONFIG = "generator.json"
#: Larger files are refused before they are read: a config is a few kB, weights a few GB at most.
MAX_CONFIG_BYTES = 1 << 20
MAX_WEIGHTS_BYTES = 16 << 30
#: Slicing defaults of datasets that declare none (the volume toolkit's own defaults).
DEFAULT_SLICE_AXIS = 2
DEFAULT_PERCENTILE = 99.5
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


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


@dataclass(frozen=True)
class GeneratorFiles:
    """A generator's files as read and checked.

    Attributes:
        config: the checked config.
        state: the weights' tensors, by ``<module>.<key>``.
        weights: the bytes of ``generator.safetensors`` whose SHA-256 was checked (what an
            export copies: no byte it did not verify).
    """

    config: GeneratorConfig
    state: dict[str, torch.Tensor]
    weights: bytes


def read_generator(folder: Path) -> GeneratorFiles:
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
    return GeneratorFiles(config, state, data)


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
        return config_from_json(raw)
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


__all__ = [
    "GENERATOR_CONFIG",
    "GENERATOR_WEIGHTS",
    "GeneratorConfig",
    "GeneratorFiles",
    "encode_weights",
    "has_generator",
    "inference_state",
    "load_inference_state",
    "read_config",
    "read_generator",
    "save_run_generator",
    "write_generator",
]
