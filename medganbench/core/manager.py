"""Building the plugin manager and the component registries from it.

:func:`make_plugin_manager` is the one place plugins are loaded: the built-in plugin modules
named in :data:`BUILTIN_PLUGINS` (imported by name, so the core never imports a plugin module
statically), then third-party plugins from the ``medganbench`` entry-point group unless
``MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set. It always calls ``check_pending()``, so a
misspelt hook is an error at start-up rather than a silently ignored function.
"""

from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from typing import Any, cast

import pluggy

from medganbench import __version__
from medganbench.core import hookspecs
from medganbench.core.registry import Registry
from medganbench.core.specs import (
    DatasetSpec,
    ExecutorSpec,
    MetricSpec,
    ModelSpec,
    ReportedResult,
    WeightsSpec,
)
from medganbench.errors import PluginError

ENTRY_POINT_GROUP = "medganbench"
AUTOLOAD_ENV = "MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugin modules, registered in this order before any third-party plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "medganbench_plugins.datasets.phantom_brain",
    "medganbench_plugins.datasets.dicom_series",
    "medganbench_plugins.datasets.nifti_volumes",
    "medganbench_plugins.datasets.brats",
    "medganbench_plugins.datasets.acdc",
    "medganbench_plugins.datasets.folders",
    "medganbench_plugins.datasets.kaggle_brain",
    "medganbench_plugins.datasets.covid_ct",
    "medganbench_plugins.models.identity",
    "medganbench_plugins.models.intensity_lookup",
    "medganbench_plugins.models.cyclegan",
    "medganbench_plugins.models.hlsnc",
    "medganbench_plugins.models.pix2pix",
    "medganbench_plugins.models.hagan",
    "medganbench_plugins.models.unconditional",
    "medganbench_plugins.models.wgan",
    "medganbench_plugins.models.infogan",
    "medganbench_plugins.models.unetgan",
    "medganbench_plugins.models.ddpm",
    "medganbench_plugins.metrics.paired",
    "medganbench_plugins.metrics.lpips_metric",
    "medganbench_plugins.metrics.distribution",
    "medganbench_plugins.metrics.inception_score",
    "medganbench_plugins.executors.local",
    "medganbench_plugins.executors.ray_cluster",
    "medganbench_plugins.references.paper000",
    "medganbench_plugins.references.paper002",
)


def make_plugin_manager(
    *, builtins: bool = True, autoload: bool | None = None, extra: tuple[Any, ...] = ()
) -> pluggy.PluginManager:
    """Create a plugin manager with every plugin registered and validated.

    Args:
        builtins: register the modules in :data:`BUILTIN_PLUGINS`.
        autoload: load entry points of the ``medganbench`` group; ``None`` means "unless the
            environment variable ``MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set".
        extra: further plugin objects to register last (tests, notebooks).

    Returns:
        A fresh :class:`pluggy.PluginManager`; nothing is cached between calls.

    Raises:
        PluginError: a plugin fails to import, or implements a hook that does not exist.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if builtins:
        for module_name in BUILTIN_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    if autoload:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:  # a broken third-party package must not look like our bug
            raise PluginError(
                f"A plugin from the {ENTRY_POINT_GROUP!r} entry-point group failed to load: {exc}",
                hint=f"Fix or uninstall it, or set {AUTOLOAD_ENV}=1 to skip third-party plugins.",
            ) from exc
    for plugin in extra:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(_explain_validation(pm, exc)) from exc
    return pm


def _explain_validation(pm: pluggy.PluginManager, exc: pluggy.PluginValidationError) -> str:
    known = [name for name in dir(hookspecs) if name.startswith("medganbench_")]
    names = [
        name for name in dir(exc.plugin) if name.startswith("medganbench_") and name not in known
    ]
    plugin_name = pm.get_name(exc.plugin) or repr(exc.plugin)
    parts = [f"Plugin {plugin_name!r} implements an unknown hook"]
    for name in names:
        close = difflib.get_close_matches(name, known, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return " ".join(parts) + f". Known hooks: {', '.join(known)}."


@dataclass(frozen=True)
class Registries:
    """The component registries of one plugin manager (and the weights artifacts)."""

    datasets: Registry[DatasetSpec]
    models: Registry[ModelSpec]
    metrics: Registry[MetricSpec]
    weights: Registry[WeightsSpec]
    executors: Registry[ExecutorSpec]


def build_registries(pm: pluggy.PluginManager) -> Registries:
    """Collect every plugin's specs into registries.

    Raises:
        DuplicateNameError: two plugins register the same name for one kind.
        PluginError: a hook returns something that is not a list of the right spec type.
    """
    return Registries(
        datasets=_collect(pm, "medganbench_datasets", DatasetSpec, "dataset"),
        models=_collect(pm, "medganbench_models", ModelSpec, "model"),
        metrics=_collect(pm, "medganbench_metrics", MetricSpec, "metric"),
        weights=_collect(pm, "medganbench_weights", WeightsSpec, "weights artifact"),
        executors=_collect(pm, "medganbench_executors", ExecutorSpec, "executor"),
    )


def _collect(pm: pluggy.PluginManager, hook_name: str, spec_type: type, kind: str) -> Registry[Any]:
    registry: Registry[Any] = Registry(kind)
    caller = getattr(pm.hook, hook_name)
    # Call each implementation on its own so a duplicate can name the plugin it came from.
    for impl in reversed(caller.get_hookimpls()):  # registration order
        plugin_name = impl.plugin_name
        specs = impl.function()
        if specs is None:
            continue
        for spec in specs:
            if not isinstance(spec, spec_type):
                raise PluginError(
                    f"Plugin {plugin_name!r}: {hook_name}() returned {type(spec).__name__}, "
                    f"expected {spec_type.__name__}."
                )
            registry.add(spec, plugin_name)
    return registry


def collect_reported_results(pm: pluggy.PluginManager) -> tuple[ReportedResult, ...]:
    """Every plugin's reported results, in registration order.

    Raises:
        PluginError: a hook returns something else, or two entries are identical (a number
            registered twice would be shown twice).
    """
    seen: dict[ReportedResult, str] = {}
    for impl in pm.hook.medganbench_reported_results.get_hookimpls():
        results = cast(list[object], impl.function() or [])
        for result in results:
            if not isinstance(result, ReportedResult):
                raise PluginError(
                    f"Plugin {impl.plugin_name!r}: medganbench_reported_results() returned "
                    f"{type(result).__name__}, expected ReportedResult."
                )
            if result in seen:
                raise PluginError(
                    f"Reported result {result.method!r} ({result.source}, {result.table}, "
                    f"{result.metric}) is registered twice: by {seen[result]!r} and {impl.plugin_name!r}."
                )
            seen[result] = impl.plugin_name
    return tuple(seen)


def plugin_versions(pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """(plugin name, version) for every registered plugin, in registration order.

    Built-ins carry medganbench's version; entry-point plugins their distribution's version.
    """
    dist_of = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        dist = dist_of.get(id(plugin))
        if dist is not None:
            rows.append((name, f"{dist.project_name} {dist.version}"))
        elif name in BUILTIN_PLUGINS:
            rows.append((name, f"medganbench {__version__} (built-in)"))
        else:
            rows.append((name, "(registered directly)"))
    return rows


__all__ = [
    "AUTOLOAD_ENV",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Registries",
    "build_registries",
    "collect_reported_results",
    "make_plugin_manager",
    "plugin_versions",
]
