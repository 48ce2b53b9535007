"""``medganbench list`` and ``medganbench plugins``: what is installed."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from medganbench import defaults
from medganbench.cli.common import dataset_context, load_registries, out
from medganbench.core.loading import DISABLE_ENV, PluginManager
from medganbench.core.manager import hook_results, make_plugin_manager
from medganbench.core.registry import Registry
from medganbench.core.specs import ComponentSpec, DatasetSpec, EncoderSpec, ModelSpec, TrackerSpec
from medganbench.errors import PluginError
from medganbench.run.flops import probe_model
from medganbench.weights.store import cached

#: What ``medganbench list`` lists, in order: the registries' names.
KINDS = ["models", "datasets", "metrics", "executors", "trackers"]


@click.command(name="list")
@click.argument("kind", required=False, type=click.Choice(KINDS))
@click.option(
    "--details",
    is_flag=True,
    help="Also show arguments; for models their parameters and FLOPs per training step; for "
    "metrics the feature encoders and whether their weights are installed.",
)
@click.option(
    "--image-size",
    default=defaults.IMAGE_SIZE,
    show_default=True,
    type=int,
    help="Image size at which --details measures FLOPs per step.",
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Also look for dataset files here.",
)
def list_components(
    kind: str | None, details: bool, image_size: int, data_dir: Path | None
) -> None:
    """List registered models, datasets, metrics, sweep executors and trackers (--tracker), with
    the package (distribution and version) that provides each: what a leaderboard row records
    as its provenance."""
    registries = load_registries()
    kinds = [kind] if kind else KINDS
    for name in kinds:
        registry = getattr(registries, name)
        measure = details and name == "models"
        title = (
            f"{name} (FLOPs of one training step at {image_size} px, measured on CPU)"
            if measure
            else name
        )
        table = Table(title=title)
        for column in ("name", "version", "summary", "plugin", "package"):
            table.add_column(column)
        if name in ("models", "datasets", "metrics"):
            table.add_column("dims")
        if measure:
            table.add_column("parameters", justify="right")
            table.add_column("GFLOPs/step", justify="right")
        if name == "datasets":
            for column in ("modality", "pairing", "size", "present here"):
                table.add_column(column)
        if name == "trackers":
            table.add_column("installed")
        if details:
            table.add_column("arguments (default)")
        for entry in registry.entries():
            package = registries.provenance(name, entry.spec.name)
            row = [
                entry.spec.name,
                entry.spec.version,
                entry.spec.summary,
                entry.plugin,
                f"{package['name']} {package['version']}".strip(),
            ]
            if name in ("models", "datasets", "metrics"):
                row.append(dimensions(entry.spec))
            if measure:
                row.extend(_model_size_cells(entry.spec, image_size))
            if name == "datasets":
                spec = entry.spec
                row.extend([spec.modality, spec.pairing, spec.size, _presence(spec, data_dir)])
            if name == "trackers":
                row.append(_installed(entry.spec))
            if details:
                row.append(
                    "\n".join(
                        f"{p.name}={p.default}"
                        + (f" [{'|'.join(map(str, p.choices))}]" if p.choices else "")
                        for p in entry.spec.params
                    )
                )
            # What plugins declare is data, not rich markup: frd's summary names the extra
            # "[radiomics]", a choice list reads "[a2b|b2a]".
            table.add_row(*(escape(cell) for cell in row))
        out.print(table)
        if details and name == "metrics":
            out.print(_encoders_table(registries.encoders), markup=False)


def dimensions(spec: ComponentSpec) -> str:
    """ "2-D", "3-D" or "2-D, 3-D": the images a model takes, a dataset serves or a metric
    scores (a model's or metric's class is imported to read it)."""
    if isinstance(spec, DatasetSpec):
        dims: tuple[int, ...] = (
            (2, 3)
            if callable(spec.spatial_dims) or isinstance(spec.spatial_dims, str)
            else (spec.spatial_dims,)
        )
    else:
        declared = getattr(spec.load(), "spatial_dims", 2)
        dims = tuple(declared) if isinstance(declared, tuple) else (int(declared),)
    return ", ".join(f"{d}-D" for d in dims)


def _encoders_table(encoders: Registry[EncoderSpec]) -> Table:
    """The feature encoders of the distribution metrics and whether their weights are here."""
    table = Table(
        title="encoders (--metric-arg fd.encoder=NAME; also kid, precision, recall, density, coverage)"
    )
    for column in ("name", "version", "summary", "plugin", "weights"):
        table.add_column(column)
    for entry in encoders.entries():
        spec = entry.spec
        cells = (spec.name, spec.version, spec.summary, entry.plugin, _weights_status(spec))
        table.add_row(*(escape(cell) for cell in cells))
    return table


def _weights_status(spec: EncoderSpec) -> str:
    """The encoder's weights artifact and whether a usable file is installed."""
    weights = spec.weights
    if weights is None:
        return "none needed"
    hit = cached(weights)
    if hit is None:
        return f"{weights.name}: not installed (medganbench weights install {weights.name})"
    trust = "verified" if hit.verified else "no pinned hash: unverified"
    return f"{weights.name}: installed, sha256 {hit.sha256[:16]}… ({trust})"


def _installed(spec: TrackerSpec) -> str:
    """ "yes", or which packages are missing and how to install them."""
    missing = spec.missing()
    if not missing:
        return "yes"
    return f"no: {spec.install or 'pip install ' + ' '.join(missing)}"


def _presence(spec: DatasetSpec, data_dir: Path | None) -> str:
    """ "generated" (nothing to download), "yes: <root>" or "no" (see `datasets download`)."""
    locate = spec.locator()
    if locate is None:
        generated = not any(p.location for p in spec.params)
        return "generated" if generated else "given by --dataset-arg root"
    root = locate(spec.resolve({}), dataset_context(spec.name, data_dir))
    return f"yes: {root}" if root is not None else "no"


def _model_size_cells(spec: ModelSpec, image_size: int) -> list[str]:
    """Parameters and GFLOPs per step of one model, measured by a real step on random images."""
    size = probe_model(spec, image_size)
    gflops = f"{size.flops_per_step / 1e9:.2f} (batch {size.batch_size})"
    return [f"{size.parameters:,}", gflops]


@click.command()
def plugins() -> None:
    """List the plugins with their packages; mark broken and disabled ones (exit 1 if broken)."""
    pm = make_plugin_manager(strict=False)
    problems = hook_problems(pm)
    table = Table(title="plugins")
    for column in ("plugin", "package", "entry point", "status"):
        table.add_column(column)
    for name, _ in pm.list_name_plugin():
        origin = pm.origin_of(name)
        status = f"BROKEN: {problems[name]}" if name in problems else "ok"
        table.add_row(name, origin.package, origin.entry_point, status)
    for broken in pm.broken:
        origin = broken.origin
        table.add_row(origin.name, origin.package, origin.entry_point, f"BROKEN: {broken.problem}")
    for name in pm.disabled:
        table.add_row(name, "", "", f"disabled ({DISABLE_ENV})")
    out.print(table, markup=False)  # names and problems are data, not markup
    failed = len(pm.broken) + len(problems)
    if failed:
        raise PluginError(
            f"{failed} plugin(s) are broken (marked above); commands that load plugins stop "
            "with their message.",
            hint=f"Fix or uninstall them, or leave them out with {DISABLE_ENV}=NAME,...",
        )


def hook_problems(pm: PluginManager) -> dict[str, str]:
    """Plugin name → the first problem found calling each of its hooks (see
    :func:`~medganbench.core.manager.hook_results`)."""
    problems: dict[str, str] = {}
    for hook_name in sorted(n for n in dir(pm.hook) if n.startswith("medganbench_")):
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name in problems:
                continue
            try:
                hook_results(pm, hook_name, impl)
            except PluginError as exc:
                problems[impl.plugin_name] = exc.message
    return problems
