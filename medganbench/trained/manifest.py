"""The ``manifest.json`` beside what ``generate`` and ``translate`` write: which generator made
the files, from which weights, with which seed, in which units and window."""

from __future__ import annotations

from typing import Any

from medganbench import __version__
from medganbench.run.outputs import MANIFEST_NAME
from medganbench.trained.generator import Generator


def manifest(generator: Generator, command: str, **fields: Any) -> dict[str, Any]:
    """The fields every manifest has, then ``fields``."""
    config = generator.config
    return {
        "medganbench_output": 1,
        "command": command,
        "run_id": config.run_id,
        "model": config.model,
        "model_version": config.model_version,
        "model_args": config.model_args,
        "weights_sha256": config.weights_sha256,
        "selected_step": config.selected_step,
        "dataset": config.dataset,
        "dataset_version": config.dataset_version,
        "image_size": config.image_size,
        "precision": config.precision,
        "device": str(generator.device),
        "medganbench_version": __version__,
        **fields,
    }


__all__ = ["MANIFEST_NAME", "manifest"]
