"""``medganbench generate``: samples of a trained unconditional model, as files with a manifest.

Samples are drawn exactly as evaluation draws them (:meth:`Generator.sample`): the same seed
gives the same files, and the run's seed with ``n`` equal to the test split's size gives the
samples the run was scored on. Files are ``00000.npy`` (float32 (C, S, S) in the domain's units,
HU for CT) or ``00000.png`` (the domain's window on the grey range), as
:mod:`medganbench.run.outputs` writes and ``medganbench score`` reads them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from medganbench import progress
from medganbench.core.model import Task
from medganbench.errors import UsageError
from medganbench.fileio import write_json
from medganbench.run.evaluate import EVAL_BATCH_SIZE
from medganbench.run.outputs import FORMATS, ImageShape, sample_name, write_images
from medganbench.trained.generator import Generator
from medganbench.trained.manifest import MANIFEST_NAME, describe_domain, manifest
from medganbench.trained.outputs import prepare_out


def generate_files(
    generator: Generator, n: int, out: Path, seed: int = 0, fmt: str = "npy"
) -> tuple[Path, torch.Tensor]:
    """Write ``n`` samples and ``manifest.json`` into ``out``.

    Returns:
        The manifest's path, and the samples (n, C, S, S) in the domain's units.

    Raises:
        UsageError: a translation model, ``n`` < 1, an unknown format, or ``out`` unusable.
    """
    if generator.task is not Task.SAMPLE:
        raise UsageError(
            f"{generator.config.model} is a translation model: it makes images from inputs.",
            hint="Use medganbench translate RUN_DIR --input DIR --out DIR.",
        )
    if n < 1:
        raise UsageError(f"--n {n}: ask for at least one sample.")
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}.")
    prepare_out(out)
    _, target = generator.domains()
    shape = ImageShape(target.channels, generator.config.image_size, target.window)
    names = []
    with progress.phase(f"sampling {generator.config.model}", total=n, unit="images") as shown:
        # One call per batch of the evaluation's size keeps the draws identical to sample(n).
        images = generator.sample(n, seed)
        for start in range(0, n, EVAL_BATCH_SIZE):
            chunk = images[start : start + EVAL_BATCH_SIZE]
            named = [(sample_name(start + i), image) for i, image in enumerate(chunk)]
            write_images(out, named, fmt, shape)
            names += [name for name, _ in named]
            shown.advance(len(chunk))
    path = out / MANIFEST_NAME
    write_json(
        path,
        manifest(
            generator,
            "generate",
            seed=seed,
            n=n,
            format=fmt,
            domain=describe_domain(target),
            files=[f"{name}.{fmt}" for name in names],
        ),
    )
    return path, images


__all__ = ["generate_files"]
