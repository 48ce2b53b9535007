"""Generator folders made without a run: a model built at 32 px on the phantom's domains, its
inference weights written as a run writes them, for tests of what reads them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from medganbench.core.dataset import DatasetInfo
from medganbench.core.manager import Registries
from medganbench.core.model import Model, ModelContext
from medganbench.data.intensity import mr_domain
from medganbench.run.generator_files import (
    GeneratorConfig,
    encode_weights,
    inference_state,
    write_generator,
)
from medganbench_plugins.datasets.phantom_brain import CT_DOMAIN

SIZE = 32
INFO = DatasetInfo(
    a=mr_domain("T1-weighted MR"), b=CT_DOMAIN, paired=True, splits=("train", "val", "test"),
    image_size=SIZE,
)  # fmt: skip


def build(registries: Registries, model: str, args: Mapping[str, Any], seed: int = 0) -> Model:
    torch.manual_seed(seed)
    ctx = ModelContext(SIZE, INFO, torch.device("cpu"), seed)
    built: Model = registries.models.get(model).build(dict(args), ctx)
    return built


def write_folder(
    folder: Path,
    registries: Registries,
    model: str,
    args: Mapping[str, Any],
    *,
    seed: int = 0,
    **changes: Any,
) -> GeneratorConfig:
    """Build ``model`` and write its generator files into ``folder``; ``changes`` replace
    config fields (after the weights' hash is taken)."""
    built = build(registries, model, args, seed)
    spec = registries.models.get(model)
    state = inference_state(built)
    weights, digest = encode_weights(state)
    config = GeneratorConfig(
        run_id="0123456789abcdef",
        model=model,
        model_version=spec.version,
        model_args=dict(spec.resolve(dict(args))),
        task=built.task.value,
        directions=tuple(built.eval_directions),
        dataset="phantom-brain",
        dataset_version="1",
        dataset_args={"domain": "b"} if built.task.value == "sample" else {},
        dataset_fingerprint="f" * 16,
        dataset_info=INFO,
        image_size=SIZE,
        seed=seed,
        precision="fp32",
        selected_step=0,
        steps_done=0,
        protocol="final",
        slice_axis=2,
        percentile=99.5,
        weights_sha256=digest,
        tensors={name: tuple(t.shape) for name, t in state.items()},
    )
    config = dataclasses.replace(config, **changes)
    folder.mkdir(parents=True, exist_ok=True)
    write_generator(folder, config, weights)
    return config
