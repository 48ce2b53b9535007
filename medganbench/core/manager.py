"""Building the plugin manager and the component registries from it.

:func:`make_plugin_manager` is the one place plugins are loaded: the built-in plugin modules
named in :data:`BUILTIN_PLUGINS` (imported by name, so the core never imports a plugin module
statically) first, then third-party plugins from the ``medganbench`` entry-point group unless
``MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set, one at a time (see
:mod:`medganbench.core.loading`). It always checks hook names, so a misspelt hook is an error at
start-up rather than a silently ignored function.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from medganbench import __version__
from medganbench.core import hookspecs
from medganbench.core.loading import (
    DIRECT,
    PluginManager,
    PluginOrigin,
    disabled_names,
    drop_invalid,
    load_entry_points,
    validation_problem,
)
from medganbench.core.registry import Registry
from medganbench.core.specs import (
    DatasetSpec,
    EncoderSpec,
    ExecutorSpec,
    MetricSpec,
    ModelSpec,
    ReportedResult,
    TrackerSpec,
    WeightsSpec,
)
from medganbench.errors import PluginError

ENTRY_POINT_GROUP = "medganbench"
AUTOLOAD_ENV = "MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugin modules, registered in this order before any third-party plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "medganbench_plugins.datasets.phantom_brain",
    "medganbench_plugins.datasets.phantom_brain3d",
    "medganbench_plugins.datasets.dicom_folder",
    "medganbench_plugins.datasets.nifti_folder",
    "medganbench_plugins.datasets.brats",
    "medganbench_plugins.datasets.acdc",
    "medganbench_plugins.datasets.image_folders",
    "medganbench_plugins.datasets.kaggle_brain",
    "medganbench_plugins.datasets.covid_ct",
    "medganbench_plugins.datasets.synthrad",
    "medganbench_plugins.datasets.volume_folders",
    "medganbench_plugins.models.identity",
    "medganbench_plugins.models.intensity_lookup",
    "medganbench_plugins.models.cyclegan",
    "medganbench_plugins.models.hlsnc",
    "medganbench_plugins.models.pix2pix",
    "medganbench_plugins.models.syndiff",
    "medganbench_plugins.models.pix2pix3d",
    "medganbench_plugins.models.cond_ddpm",
    "medganbench_plugins.models.hagan",
    "medganbench_plugins.models.hagan3d",
    "medganbench_plugins.models.unconditional",
    "medganbench_plugins.models.unconditional3d",
    "medganbench_plugins.models.wgan",
    "medganbench_plugins.models.infogan",
    "medganbench_plugins.models.unetgan",
    "medganbench_plugins.models.ddpm",
    "medganbench_plugins.metrics.paired",
    "medganbench_plugins.metrics.msssim",
    "medganbench_plugins.metrics.lpips_metric",
    "medganbench_plugins.metrics.distribution",
    "medganbench_plugins.metrics.manifold",
    "medganbench_plugins.metrics.memorisation",
    "medganbench_plugins.metrics.inception_score",
    "medganbench_plugins.metrics.encoders",
    "medganbench_plugins.metrics.frd",
    "medganbench_plugins.metrics.volume_planes",
    "medganbench_plugins.metrics.volume_frd",
    "medganbench_plugins.metrics.volume_mmd",
    "medganbench_plugins.metrics.volume_diversity",
    "medganbench_plugins.metrics.segmentation",
    "medganbench_plugins.executors.local",
    "medganbench_plugins.executors.ray_cluster",
    "medganbench_plugins.trackers.tensorboard_tracker",
    "medganbench_plugins.trackers.mlflow_tracker",
    "medganbench_plugins.references.paper000",
    "medganbench_plugins.references.paper002",
)


def make_plugin_manager(
    *,
    builtins: bool = True,
    autoload: bool | None = None,
    extra: tuple[Any, ...] = (),
    strict: bool = True,
) -> PluginManager:
    """Create a plugin manager with every plugin registered and validated.

    Args:
        builtins: register the modules in :data:`BUILTIN_PLUGINS`, in that order, first.
        autoload: load entry points of the ``medganbench`` group; ``None`` means "unless the
            environment variable ``MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set".
        extra: further plugin objects to register last (tests, notebooks).
        strict: a third-party plugin that cannot be loaded is an error; without it, such
            plugins are only recorded in ``pm.broken`` (``medganbench plugins`` lists them).

    Returns:
        A fresh manager; nothing is cached between calls.

    Raises:
        PluginError: (strict) a third-party plugin fails to import or implements a hook that
            does not exist, naming its package and entry point; or a built-in or extra plugin
            implements an unknown hook. A misspelt hook's message says which hook was probably
            meant; no message names a plugin by its repr (a module's holds an absolute path).
    """
    pm = PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    skip = disabled_names()
    if builtins:
        for module_name in BUILTIN_PLUGINS:
            if module_name in skip:
                pm.disabled.append(module_name)
                continue
            origin = PluginOrigin(module_name, "medganbench", __version__, builtin=True)
            try:
                pm.add(importlib.import_module(module_name), origin)
            except pluggy.PluginValidationError as exc:  # a bug in medganbench itself
                raise PluginError(
                    f"The {origin.describe()} {validation_problem(pm, exc)}."
                ) from None
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    if autoload:
        load_entry_points(pm, ENTRY_POINT_GROUP)
    for plugin in extra:
        pm.register_direct(plugin)
    drop_invalid(pm)
    if strict and pm.broken:
        first = pm.broken[0]
        raise PluginError(first.message(), hint=first.hint())
    return pm


@dataclass(frozen=True)
class Registries:
    """The component registries of one plugin manager (and the weights artifacts).

    Attributes:
        origins: plugin name → where it comes from (its distribution and version), for the
            provenance recorded on leaderboard rows (:meth:`provenance`).
    """

    datasets: Registry[DatasetSpec]
    models: Registry[ModelSpec]
    metrics: Registry[MetricSpec]
    weights: Registry[WeightsSpec]
    executors: Registry[ExecutorSpec]
    encoders: Registry[EncoderSpec] = field(default_factory=lambda: Registry("encoder"))
    trackers: Registry[TrackerSpec] = field(default_factory=lambda: Registry("tracker"))
    origins: Mapping[str, PluginOrigin] = field(default_factory=dict)

    def provenance(self, kind: str, name: str) -> dict[str, str]:
        """The distribution that provided component ``name`` of ``kind`` (``"models"``,
        ``"datasets"``, ``"metrics"``, ...): ``{"name": "medganbench", "version": "0.2.0"}``.

        Built-ins are provided by the medganbench distribution itself; a third-party plugin by
        the package its entry point belongs to; a plugin registered by hand (tests, notebooks)
        by ``"(registered directly)"`` without a version.

        Raises:
            UnknownNameError: no component of that name.
        """
        entry = getattr(self, kind).entry(name)
        origin = self.origins.get(entry.plugin)
        if origin is None:
            return {"name": DIRECT, "version": ""}
        return {"name": origin.distribution, "version": origin.version}


def build_registries(pm: pluggy.PluginManager) -> Registries:
    """Collect every plugin's specs into registries, built-ins first.

    Raises:
        DuplicateNameError: two plugins register the same name for one kind.
        PluginError: a hook raises, or returns something that is not a list of the right spec
            type; the message names the plugin's package and entry point.
    """
    return Registries(
        datasets=_collect(pm, "medganbench_datasets", DatasetSpec, "dataset"),
        models=_collect(pm, "medganbench_models", ModelSpec, "model"),
        metrics=_collect(pm, "medganbench_metrics", MetricSpec, "metric"),
        weights=_collect(pm, "medganbench_weights", WeightsSpec, "weights artifact"),
        executors=_collect(pm, "medganbench_executors", ExecutorSpec, "executor"),
        encoders=_collect(pm, "medganbench_encoders", EncoderSpec, "encoder"),
        trackers=_collect(pm, "medganbench_trackers", TrackerSpec, "tracker"),
        origins=dict(pm.origins) if isinstance(pm, PluginManager) else {},
    )


def _origin(pm: pluggy.PluginManager, name: str) -> str:
    if isinstance(pm, PluginManager):
        return pm.origin_of(name).describe()
    return f"plugin {name!r}"


def hook_results(pm: pluggy.PluginManager, hook_name: str, impl: Any) -> list[Any]:
    """Call one plugin's implementation of a hook; its result as a list.

    Raises:
        PluginError: the implementation raises, or returns something other than a list (or
            tuple); the message names the plugin's package and entry point.
    """
    where = _origin(pm, impl.plugin_name)
    try:
        returned = impl.function()
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is one message, not a traceback
        text = " ".join(str(exc).split())
        raise PluginError(
            f"The {where} failed in {hook_name}(): {type(exc).__name__}: {text}",
            hint=f"Fix or uninstall it, or leave it out with MEDGANBENCH_DISABLE_PLUGINS={impl.plugin_name}.",
        ) from None
    if returned is None:
        return []
    if not isinstance(returned, (list, tuple)):
        raise PluginError(
            f"The {where}: {hook_name}() returned a {type(returned).__name__}, expected a list.",
            hint="A hook returns a list of specs, even of one: return [spec]. Or leave the "
            f"plugin out with MEDGANBENCH_DISABLE_PLUGINS={impl.plugin_name}.",
        )
    return list(returned)


def _collect(pm: pluggy.PluginManager, hook_name: str, spec_type: type, kind: str) -> Registry[Any]:
    registry: Registry[Any] = Registry(kind)
    caller = getattr(pm.hook, hook_name)
    # Each implementation on its own, in registration order (built-ins first), so that a
    # duplicate name blames the plugin that came second.
    for impl in caller.get_hookimpls():
        for spec in hook_results(pm, hook_name, impl):
            if not isinstance(spec, spec_type):
                raise PluginError(
                    f"The {_origin(pm, impl.plugin_name)}: {hook_name}() returned "
                    f"{type(spec).__name__}, expected {spec_type.__name__}."
                )
            registry.add(spec, impl.plugin_name)
    return registry


def collect_reported_results(pm: pluggy.PluginManager) -> tuple[ReportedResult, ...]:
    """Every plugin's reported results, in registration order.

    Raises:
        PluginError: a hook returns something else, or two entries are identical (a number
            registered twice would be shown twice).
    """
    seen: dict[ReportedResult, str] = {}
    for impl in pm.hook.medganbench_reported_results.get_hookimpls():
        for result in hook_results(pm, "medganbench_reported_results", impl):
            if not isinstance(result, ReportedResult):
                raise PluginError(
                    f"The {_origin(pm, impl.plugin_name)}: medganbench_reported_results() "
                    f"returned {type(result).__name__}, expected ReportedResult."
                )
            if result in seen:
                raise PluginError(
                    f"Reported result {result.method!r} ({result.source}, {result.table}, "
                    f"{result.metric}) is registered twice: by {seen[result]!r} and {impl.plugin_name!r}."
                )
            seen[result] = impl.plugin_name
    return tuple(seen)


def plugin_versions(pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """(plugin name, package and version) for every registered plugin, in registration order."""
    return [(name, _package(pm, name)) for name, _ in pm.list_name_plugin()]


def _package(pm: pluggy.PluginManager, name: str) -> str:
    if isinstance(pm, PluginManager):
        return pm.origin_of(name).package
    return DIRECT


__all__ = [
    "AUTOLOAD_ENV",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Registries",
    "build_registries",
    "collect_reported_results",
    "hook_results",
    "make_plugin_manager",
    "plugin_versions",
]
