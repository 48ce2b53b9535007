"""``medganbench generate``: samples of a trained unconditional model, as files with a manifest.

Samples are drawn exactly as evaluation draws them (:meth:`Generator.sample`): the same seed
gives the same files, and the run's seed with ``n`` equal to the test split's size gives the
samples the run was scored on. Files are ``00000.npy`` (float32 (C, S, S) in the domain's units,
HU for CT; a 3-D model's (C, D, H, W) volumes) or ``00000.png`` (images only) (the domain's window on the grey range), as
:mod:`medganbench.run.outputs` writes and ``medganbench score`` reads them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from medganbench import progress
from medganbench.core.model import Task
from medganbench.errors import UsageError
from medganbench.fileio import write_json
from medganbench.run.generator_config import domain_json
from medganbench.run.outputs import FORMATS, ImageShape, sample_name, write_images
from medganbench.trained.generator import Generator
from medganbench.trained.manifest import MANIFEST_NAME, manifest
from medganbench.trained.outputs import prepare_out


def generate_files(
    generator: Generator, n: int, out: Path, seed: int = 0, fmt: str = "npy"
) -> tuple[Path, torch.Tensor]:
    """Write ``n`` samples and ``manifest.json`` into ``out``.

    Returns:
        The manifest's path, and the samples (n, C, S, S) in the domain's units.

    Raises:
        UsageError: a translation model, ``n`` < 1, or an unknown format.
        StorageError: ``out`` is unusable.
    """
    if generator.task is not Task.SAMPLE:
        raise UsageError(
            f"{generator.config.model} is a translation model: it makes images from inputs.",
            hint="Use medganbench translate RUN_DIR --input DIR --out DIR.",
        )
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}.")
    if generator.config.dataset_info.volume is not None and fmt != "npy":
        raise UsageError(
            f"{generator.config.model} samples volumes; --format {fmt} holds 2-D images.",
            hint="Use --format npy: one (C, D, H, W) array per sample.",
        )
    batches = generator.sample_batches(n, seed)
    prepare_out(out)
    _, target = generator.domains()
    shape = ImageShape(target.channels, generator.config.image_size, target.window)
    drawn: list[torch.Tensor] = []
    with progress.phase(f"sampling {generator.config.model}", total=n, unit="images") as shown:
        # The draws of sample(n, seed), written (and shown) as each batch comes.
        for batch in batches:
            first = shown.done
            write_images(
                out, [(sample_name(first + i), x) for i, x in enumerate(batch)], fmt, shape
            )
            drawn.append(batch)
            shown.advance(len(batch))
    path = out / MANIFEST_NAME
    write_json(
        path,
        manifest(
            generator,
            "generate",
            seed=seed,
            n=n,
            format=fmt,
            domain=domain_json(target),
            files=[f"{sample_name(i)}.{fmt}" for i in range(n)],
        ),
    )
    return path, torch.cat(drawn)


__all__ = ["generate_files"]
