"""``medganbench check`` and ``medganbench check-plugin``: the contract kit on installed
components, one line per contract, exit 1 naming every broken one."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from medganbench.cli.common import out
from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.params import parse_key_values
from medganbench.errors import PluginError, UsageError
from medganbench.testing import KINDS, CheckResult, CheckSettings, check_component, components_of

_STYLE = {"ok": "green", "failed": "bold red", "skipped": "yellow"}


def _print(result: CheckResult) -> None:
    style = _STYLE[result.status]
    # One line per contract, however long: scripts and tests read them line by line.
    line = f"[{style}]{result.status:<8}[/]" + escape(result.body())
    out.print(line, highlight=False, soft_wrap=True)


def _conclude(results: list[CheckResult], what: str) -> None:
    """Say how it went; raise naming each broken contract."""
    broken = [r for r in results if not r.passed]
    skipped = sum(r.status == "skipped" for r in results)
    if broken:
        names = ", ".join(f"{r.kind} {r.name}: {r.contract}" for r in broken)
        raise PluginError(
            f"{what} breaks {len(broken)} contract(s): {names}.",
            hint="The lines above say how; docs/plugins.md describes each contract.",
        )
    kept = len(results) - skipped
    out.print(
        f"{what}: all {kept} contract(s) hold" + (f" ({skipped} skipped)" if skipped else "") + ".",
        markup=False,
    )


def _skips(items: tuple[str, ...]) -> dict[str, str]:
    skip = {}
    for item in items:
        key, _, reason = item.partition("=")
        skip[key.strip()] = reason.strip() or "skipped with --skip"
    return skip


@click.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("name")
@click.option(
    "--arg", "args", multiple=True, metavar="K=V", help="Argument of the component; repeatable."
)
@click.option(
    "--skip",
    "skips",
    multiple=True,
    metavar="CONTRACT[=REASON]",
    help="Leave out a contract that does not apply (e.g. prefers-truth for a reference-free metric); repeatable.",
)
@click.option(
    "--probe-dataset",
    default=None,
    metavar="NAME",
    help="Check a model or metric on this dataset instead of a small phantom-brain.",
)
@click.option(
    "--probe-dataset-arg",
    "probe_dataset_args",
    multiple=True,
    metavar="K=V",
    help="Argument of the probe dataset (e.g. more test slices for a metric that needs them); repeatable.",
)
@click.option(
    "--weights-file",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="For weights: the raw file, to check that it matches a pin and converts.",
)
def check(
    kind: str,
    name: str,
    args: tuple[str, ...],
    skips: tuple[str, ...],
    probe_dataset: str | None,
    probe_dataset_args: tuple[str, ...],
    weights_file: Path | None,
) -> None:
    """Check one installed component against its kind's contracts (exit 1 if any breaks)."""
    if weights_file is not None and kind != "weights":
        raise UsageError("--weights-file is for weights artifacts only.")
    probing = probe_dataset is not None or probe_dataset_args
    if probing and kind not in ("model", "metric"):
        raise UsageError("--probe-dataset and --probe-dataset-arg are for models and metrics only.")
    settings = CheckSettings(
        args=parse_key_values(args, "--arg"),
        skip=_skips(skips),
        dataset=probe_dataset,
        dataset_args=(
            parse_key_values(probe_dataset_args, "--probe-dataset-arg")
            if probe_dataset_args
            else None
        ),
        weights_file=str(weights_file) if weights_file is not None else None,
    )
    results = check_component(kind, name, settings)
    for result in results:
        _print(result)
    _conclude(results, f"{kind} {name!r}")


@click.command(name="check-plugin")
@click.argument("distribution")
def check_plugin(distribution: str) -> None:
    """Check every component an installed distribution registers (its entry points), each
    with its defaults (exit 1 if any contract breaks)."""
    pm = make_plugin_manager()
    registries = build_registries(pm)
    components = components_of(pm, registries, distribution)
    if not components:
        raise UsageError(f"The plugins of {distribution!r} register no component the kit checks.")
    results: list[CheckResult] = []
    for kind, name in components:
        for result in check_component(kind, name, registries=registries):
            _print(result)
            results.append(result)
    _conclude(results, f"{distribution} ({len(components)} component(s))")
