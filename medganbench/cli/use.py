"""``medganbench generate``, ``translate`` and ``export``: use what a run trained.

Each takes a run folder (``runs/<run id>``) or a folder ``export`` wrote, and calls the same
functions as :mod:`medganbench.api`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console

from medganbench import progress
from medganbench.cli.common import leaderboard_dir_option, load_registries, out
from medganbench.run.outputs import FORMATS
from medganbench.run.progress import sink_for
from medganbench.trained.card import UNSTATED_LICENSE
from medganbench.trained.export import export_generator, push
from medganbench.trained.generator import Generator, load_generator
from medganbench.trained.sampling import generate_files
from medganbench.trained.translation import INPUT_UNITS, translate_files

_SOURCE = click.argument("source", type=click.Path(path_type=Path, file_okay=False, exists=True))
_OUT = click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder."
)
_DEVICE = click.option(
    "--device", default=None, help="cpu, cuda or cuda:N [default: CUDA if present]."
)
_PROGRESS = click.option(
    "--progress/--no-progress", default=True, help="A bar on a terminal, else a heartbeat line."
)


@contextmanager
def _showing(bar: bool) -> Iterator[None]:
    with sink_for(Console(stderr=True), bar) as sink, progress.showing(sink):
        yield


def _say(generator: Generator, what: str) -> None:
    config = generator.config
    out.print(
        f"{what} with {config.model} (run {config.run_id}, step {config.selected_step}, "
        f"weights sha256 {config.weights_sha256[:12]}…)",
        markup=False,
        highlight=False,
    )


@click.command()
@_SOURCE
@click.option("--n", "n", required=True, type=click.IntRange(min=1), help="Number of samples.")
@_OUT
@click.option(
    "--seed", default=0, show_default=True, type=int, help="The same seed, the same files."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="npy", show_default=True)
@_DEVICE
@_PROGRESS
def generate(
    source: Path, n: int, out_dir: Path, seed: int, fmt: str, device: str | None, progress: bool
) -> None:
    """Draw N samples from the unconditional model of SOURCE (a run folder or an export) into
    --out: NumPy files in the dataset's units (HU for CT) or PNGs of its window, and
    manifest.json (run, model, weights hash, seed, units, window)."""
    generator = load_generator(source, load_registries(), device)
    with _showing(progress):
        manifest, _ = generate_files(generator, n, out_dir, seed, fmt)
    _say(generator, f"{n} samples")
    out.print(f"written to {out_dir} (manifest: {manifest.name})", markup=False, highlight=False)


@click.command()
@_SOURCE
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="An image (.npy, .png), a volume (.nii, .nii.gz, .mha, .nrrd or a DICOM series folder), "
    "or a folder of them.",
)
@_OUT
@click.option("--direction", default=None, help="a2b or b2a [default: the model's primary one].")
@click.option(
    "--input-units",
    type=click.Choice(INPUT_UNITS),
    default="raw",
    show_default=True,
    help="raw: volumes' values as stored (CT in HU; MR normalised per volume as the dataset "
    "did); domain: already in the source domain's delivered units.",
)
@_DEVICE
@_PROGRESS
def translate(
    source: Path,
    input_path: Path,
    out_dir: Path,
    direction: str | None,
    input_units: str,
    device: str | None,
    progress: bool,
) -> None:
    """Translate images or whole volumes with the model of SOURCE (a run folder or an export).

    Volumes are translated slice by slice across the dataset's slice axis and written back with
    the input's geometry (a NIfTI keeps its affine; a DICOM series becomes <name>.nii.gz),
    in the target domain's units (HU for CT); images keep their name and format. --out gets
    manifest.json as well.
    """
    generator = load_generator(source, load_registries(), device)
    with _showing(progress):
        done = translate_files(generator, input_path, out_dir, direction, input_units)
    _say(generator, f"{len(done)} input(s) translated")
    for item in done:
        out.print(f"  {item.source.name} → {item.output}", markup=False, highlight=False)


@click.command()
@_SOURCE
@_OUT
@click.option(
    "--license",
    "license_id",
    default=UNSTATED_LICENSE,
    show_default=True,
    help="The weights' licence for the model card (an SPDX identifier such as cc-by-4.0).",
)
@click.option(
    "--push",
    "repo",
    default=None,
    metavar="ORG/NAME",
    help="Also upload to this Hugging Face Hub model repository.",
)
@leaderboard_dir_option
def export(
    source: Path, out_dir: Path, license_id: str, repo: str | None, leaderboard_dir: Path
) -> None:
    """Write the generator of SOURCE (a run folder) to --out as safetensors weights, the JSON
    config that rebuilds it, and a model card with the run's scores from the leaderboard.
    Every file is verified first (hashes, model, shapes)."""
    folder = export_generator(
        source, out_dir, load_registries(), leaderboard_dir=leaderboard_dir, license=license_id
    )
    out.print(f"exported to {folder}", markup=False, highlight=False)
    if repo is not None:
        url = push(folder, repo)
        out.print(f"pushed to {url}", markup=False, highlight=False)


__all__ = ["export", "generate", "translate"]
