"""``medganbench datasets download``: obtain datasets that are not ours to redistribute."""

from __future__ import annotations

from pathlib import Path

import click

from medganbench.cli.common import CommandGroup, dataset_context, err, load_registries, out
from medganbench.core.specs import import_ref
from medganbench.errors import UsageError


@click.group(cls=CommandGroup)
def datasets() -> None:
    """Obtain datasets that are not ours to redistribute."""


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
    if spec.download is None:
        raise UsageError(
            f"Dataset {name!r} has nothing to download.",
            hint="It is generated, or read from --dataset-arg root.",
        )
    fetch = import_ref(spec.download, spec.name)
    args = spec.resolve({})
    with err.status(f"{name}: downloading") as status:
        root = fetch(args, dataset_context(name, data_dir), lambda m: status.update(f"{name}: {m}"))
    out.print(f"{name}: files in {root}", highlight=False)
