"""``medganbench datasets download|export``: obtain datasets that are not ours to
redistribute; write a split's inputs for code that runs elsewhere."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from medganbench import defaults
from medganbench.cli.common import CommandGroup, dataset_context, err, load_registries, out
from medganbench.core.params import parse_key_values
from medganbench.errors import UsageError
from medganbench.run.export import export_split
from medganbench.run.external import EXTERNAL_DIRECTIONS
from medganbench.run.options import RunOptions
from medganbench.run.outputs import FORMATS
from medganbench.run.spec import default_image_size


@click.group(cls=CommandGroup)
def datasets() -> None:
    """Obtain datasets that are not ours to redistribute; export a split's inputs."""


@datasets.command(name="download")
@click.argument("name")
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Download here instead of the cache.",
)
def datasets_download(name: str, data_dir: Path | None) -> None:
    """Download NAME with its official client where one is installed, else print the commands."""
    spec = load_registries().datasets.get(name)
    fetch = spec.downloader()
    if fetch is None:
        raise UsageError(
            f"Dataset {name!r} has nothing to download.",
            hint="It is generated, or read from --dataset-arg root.",
        )
    args = spec.resolve({})
    with err.status(Text(f"{name}: downloading")) as status:
        root = fetch(
            args, dataset_context(name, data_dir), lambda m: status.update(Text(f"{name}: {m}"))
        )
    out.print(f"{name}: files in {root}", markup=False, highlight=False)


@datasets.command(name="export")
@click.argument("name")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--split", default="test", show_default=True, help="The split to export.")
@click.option(
    "--direction",
    type=click.Choice(EXTERNAL_DIRECTIONS),
    default="a2b",
    show_default=True,
    help="a2b exports domain A images (the inputs of an A→B translation); b2a domain B.",
)
@click.option(
    "--image-size",
    default=None,
    type=int,
    help=f"Side length; default: the dataset's (phantom-brain-3d: 32), else {defaults.IMAGE_SIZE}.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="npy", show_default=True)
@click.option("--dataset-arg", "dataset_args", multiple=True, metavar="K=V", help="Repeatable.")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path), help="Dataset files.")
def datasets_export(
    name: str,
    out_dir: Path,
    split: str,
    direction: str,
    image_size: int | None,
    fmt: str,
    dataset_args: tuple[str, ...],
    data_dir: Path | None,
) -> None:
    """Write NAME's SPLIT inputs as OUT/inputs/<sample>.<format> and OUT/manifest.json, for a
    model run elsewhere; score what it makes with `medganbench score`."""
    registries = load_registries()
    with err.status(Text(f"{name}: exporting the {split} split")):
        count = export_split(
            registries,
            name,
            out_dir,
            dataset_args=parse_key_values(dataset_args, "--dataset-arg"),
            image_size=default_image_size(registries, name) if image_size is None else image_size,
            split=split,
            direction=direction,
            fmt=fmt,
            options=RunOptions(data_dir=data_dir),
        )
    out.print(
        f"{name}: {count} {split} inputs ({direction}) in {out_dir}", markup=False, highlight=False
    )
