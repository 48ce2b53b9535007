"""The import paths of medganbench 0.1, kept working until 0.4 with a ``DeprecationWarning``.

0.2 moved every module into subpackages (``medganbench.core``, ``.run``, ``.leaderboard``, ...)
and gave plugins one public module, :mod:`medganbench.plugin`. Code written against 0.1 (``from
medganbench.hookspecs import hookimpl``) keeps working: the policy (docs/plugins.md) is that a
public name that moves keeps working from its old path, with a warning naming the new path, for
at least one minor version. Old paths are of two kinds:

* modules that no longer exist (:data:`MOVED_MODULES`): a finder that :func:`install` appends
  to ``sys.meta_path`` (last, so that a real module of that name always wins) makes each one on
  import, warning once, holding the public names the 0.1 module had, taken from their new homes;
* packages that replaced a module of the same name (:data:`MOVED_NAMES`: ``medganbench.weights``,
  ``.sweep``, ``.leaderboard``): the package's ``__getattr__`` calls :func:`moved_name`, which
  warns on the first use of each old name.

The tables name modules as strings, and nothing here imports medganbench: a new home is imported
only when an old path is used, so this module is shared by every subpackage without any import
circle, and costs nothing until then. Only names that no longer exist at their old path are
served; ``medganbench.cli``'s 0.1 functions are not (the command line is the interface there).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple, cast

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.abc import Loader

#: The release that removes the old paths (at least one minor version after 0.2 deprecated them).
REMOVED_IN = "0.4"
PLUGIN_API = "medganbench.plugin"


class Moved(NamedTuple):
    """Where the public names of one 0.1 module live now.

    Attributes:
        home: the module most of them moved to.
        names: the names, space-separated; ``name=module`` for one that moved elsewhere,
            ``name=module:new_name`` for one that was also renamed.
        plugin_api: whether the module was for plugins (its names are in
            :mod:`medganbench.plugin`, or most of them): the warning then points there first.
    """

    home: str
    names: str
    plugin_api: bool = False

    def targets(self) -> dict[str, tuple[str, str]]:
        """Old name → (module, attribute) it is now."""
        found = {}
        for word in self.names.split():
            name, _, where = word.partition("=")
            module, _, attr = (where or self.home).partition(":")
            found[name] = (module, attr or name)
        return found

    def homes(self) -> list[str]:
        """The modules the names live in now, the main one first."""
        return list(dict.fromkeys(module for module, _ in self.targets().values()))


#: Removed module → its names' homes. 0.1's public names are its modules' ``__all__`` or, where
#: it had none, their public top-level definitions (type variables left out).
MOVED_MODULES: dict[str, Moved] = {
    # For plugins
    "medganbench.hookspecs": Moved(
        "medganbench.core.hookspecs",
        "PROJECT_NAME hookspec hookimpl medganbench_datasets medganbench_models "
        "medganbench_metrics medganbench_weights medganbench_executors "
        "medganbench_reported_results",
        plugin_api=True,
    ),
    "medganbench.specs": Moved(
        "medganbench.core.specs",
        "ComponentSpec import_ref DatasetSpec ModelSpec MetricSpec ExecutorSpec ReportedResult",
        plugin_api=True,
    ),
    "medganbench.params": Moved(
        "medganbench.core.params", "ArgValue Param parse_key_values resolve_args", plugin_api=True
    ),
    "medganbench.dataset": Moved(
        "medganbench.core.dataset",
        "DomainKey Sample SPLITS DomainInfo DatasetInfo DatasetContext Dataset",
        plugin_api=True,
    ),
    "medganbench.model": Moved(
        "medganbench.core.model", "Task ModelContext TrainBatch Model", plugin_api=True
    ),
    "medganbench.metric": Moved(
        "medganbench.core.metric",
        "Needs MetricContext MetricReport EvalBatch Metric PairedMetric",
        plugin_api=True,
    ),
    "medganbench.dataroot": Moved(
        "medganbench.data.dataroot", "env_var candidates locate_root find_root", plugin_api=True
    ),
    "medganbench.executor": Moved(
        "medganbench.sweep.executor",
        "Trial TrialRequest TrialEvent TrialOutcome Executor "
        "RETURNED_FILES=medganbench.sweep.trial RETURNED_GLOBS=medganbench.sweep.trial "
        "PROGRESS_INTERVAL_S=medganbench.sweep.trial run_trial=medganbench.sweep.trial",
        plugin_api=True,
    ),
    # The harness
    "medganbench.plugins": Moved(
        "medganbench.core.manager",
        "AUTOLOAD_ENV BUILTIN_PLUGINS ENTRY_POINT_GROUP Registries build_registries "
        "collect_reported_results make_plugin_manager plugin_versions",
    ),
    "medganbench.registry": Moved("medganbench.core.registry", "Entry Registry"),
    "medganbench.home": Moved("medganbench.defaults", "HOME_ENV medganbench_home"),
    "medganbench.runspec": Moved(
        "medganbench.run.spec",
        "RunSpec ResolvedRun DEFAULT_DATASET=medganbench.defaults:DATASET "
        "DEFAULT_IMAGE_SIZE=medganbench.defaults:IMAGE_SIZE "
        "DEFAULT_BUDGET=medganbench.defaults:BUDGET "
        "DEFAULT_METRICS=medganbench.defaults:PAIRED_METRICS "
        "SAMPLING_METRICS=medganbench.defaults canonical_json=medganbench.core.params "
        "spec_from_identity=medganbench.run.resume",
    ),
    "medganbench.runner": Moved(
        "medganbench.run.runner",
        "execute_run RunOptions=medganbench.run.options RunResult=medganbench.run.record "
        "resolve_run=medganbench.run.spec check_compatibility=medganbench.run.prepare "
        "EVAL_BATCH_SIZE=medganbench.run.evaluate is_cycle=medganbench.run.directions",
    ),
    "medganbench.batches": Moved("medganbench.run.batches", "ShuffledBatches TrainBatches"),
    "medganbench.budget": Moved("medganbench.run.budget", "Budget Ledger"),
    "medganbench.checkpoint": Moved(
        "medganbench.run.checkpoint",
        "CHECKPOINT_NAME CHECKPOINT_FORMAT rng_state restore_rng Checkpoint save_checkpoint "
        "load_checkpoint",
    ),
    "medganbench.device": Moved(
        "medganbench.run.device",
        "pick_device device_name seed_everything reset_peak_memory peak_memory_mb",
    ),
    "medganbench.flops": Moved(
        "medganbench.run.flops", "PROBE_DATASET count_flops ModelSize probe_model"
    ),
    "medganbench.samples": Moved("medganbench.run.samples", "MAX_COLUMNS save_sample_grid"),
    "medganbench.seedstats": Moved(
        "medganbench.leaderboard.seeds",
        "DEFAULT_BOOTSTRAP_SEED DEFAULT_CONFIDENCE DEFAULT_RESAMPLES AggregatedGroup "
        "SeedAggregate SeedSummary aggregate_groups bootstrap_ci summarise "
        "SEED_TABLE_SCHEMA=medganbench.leaderboard.export seed_table=medganbench.leaderboard.export "
        "interval_ranks=medganbench.leaderboard.ranking",
    ),
    "medganbench.merge": Moved(
        "medganbench.leaderboard.merge",
        "POLICIES merge_leaderboards merge_to_file write_merged "
        "KEY_COLUMNS=medganbench.leaderboard.merge_report "
        "ColumnDiff=medganbench.leaderboard.merge_report "
        "Conflict=medganbench.leaderboard.merge_report "
        "InputSummary=medganbench.leaderboard.merge_report "
        "MergeConflictError=medganbench.leaderboard.merge_report "
        "MergeResult=medganbench.leaderboard.merge_report "
        "write_report=medganbench.leaderboard.merge_report",
    ),
    "medganbench.leaderboard_render": Moved(
        "medganbench.leaderboard.render",
        "markdown render_markdown view_groups render_groups=medganbench.leaderboard.terminal",
    ),
    "medganbench.sweep_runner": Moved(
        "medganbench.sweep.runner",
        "SweepObserver SweepReport make_executor run_sweep "
        "recorded_run_ids=medganbench.leaderboard.store",
    ),
    "medganbench.sweep_progress": Moved("medganbench.sweep.progress", "SweepDisplay summary_table"),
}

#: Package that replaced a 0.1 module of its name → that module's names, served by the
#: package's ``__getattr__``. A name that is now a submodule (``medganbench.leaderboard.export``,
#: a function in 0.1) cannot be served: the submodule wins.
MOVED_NAMES: dict[str, Moved] = {
    "medganbench.weights": Moved(
        "medganbench.weights.store",
        "WEIGHTS_DIR_ENV Tensors weights_dir load_tensors ResolvedWeights cached "
        "resolve_weights install_from_file verify "
        "WeightsSpec=medganbench.core.specs Source=medganbench.core.specs "
        "Reporter=medganbench.core.specs "
        "UrlSource=medganbench.weights.sources PackageIndexSource=medganbench.weights.sources "
        "WeightsError=medganbench.weights.sources "
        "WeightsUnavailableError=medganbench.weights.sources "
        "FETCH_TIMEOUT_S=medganbench.weights.sources sha256_of=medganbench.weights.sources",
        plugin_api=True,
    ),
    "medganbench.sweep": Moved(
        "medganbench.sweep.spec",
        "ModelVariant DatasetChoice SweepSpec load_sweep parse_sweep expand_trials",
    ),
    "medganbench.leaderboard": Moved(
        "medganbench.leaderboard.store",
        "LOCK_TIMEOUT_S append_rows leaderboard_path read_leaderboard "
        "SCHEMA=medganbench.leaderboard.schema SCHEMA_VERSION=medganbench.leaderboard.schema "
        "MetricColumn=medganbench.leaderboard.columns "
        "COMPARABLE_KEYS=medganbench.leaderboard.ranking "
        "RankedGroup=medganbench.leaderboard.ranking RankedRow=medganbench.leaderboard.ranking "
        "ranked_groups=medganbench.leaderboard.ranking "
        "EXPORT_FORMATS=medganbench.leaderboard.export "
        "render_groups=medganbench.leaderboard.terminal",
    ),
}


def _advice(homes: Sequence[str], plugin_api: bool) -> str:
    where = ", ".join(homes)
    return f"import from {PLUGIN_API} (or {where})" if plugin_api else f"import from {where}"


def module_message(old: str) -> str:
    """The warning for importing the removed module ``old``."""
    moved = MOVED_MODULES[old]
    advice = _advice(moved.homes(), moved.plugin_api)
    return f"{old} is deprecated: {advice}; it will be removed in {REMOVED_IN}."


def name_message(package: str, name: str) -> str:
    """The warning for using ``package.name``, a name of the 0.1 module ``package``."""
    moved = MOVED_NAMES[package]
    module, attr = moved.targets()[name]
    # Only a name that really is in the public API is sent there (checked when it is used: the
    # API imports torch, which a plugin-facing package's names need anyway). By identity: the
    # weights manager's `cached` is not the data toolkit's.
    public = moved.plugin_api and getattr(
        importlib.import_module(PLUGIN_API), attr, None
    ) is getattr(importlib.import_module(module), attr)
    advice = _advice([module], public)
    renamed = f" (now {attr})" if attr != name else ""
    return f"{package}.{name}{renamed} is deprecated: {advice}; it will be removed in {REMOVED_IN}."


def moved_name(package: str, name: str) -> Any:
    """``package.name`` for a name the 0.1 module ``package`` had, with a warning; what a
    package's ``__getattr__`` returns.

    Raises:
        AttributeError: ``name`` was not such a name (as for any missing attribute).
    """
    target = MOVED_NAMES[package].targets().get(name)
    if target is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    # stacklevel 3: past this function and the package's __getattr__, to the code that used the
    # name (for `from package import name`, the import machinery's own frames are skipped).
    warnings.warn(name_message(package, name), DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module(target[0]), target[1])


class _OldModules:
    """Finds and makes the modules of :data:`MOVED_MODULES` (a meta path finder and loader).

    No importlib.abc base classes: the import system needs only these methods, and every
    ``import medganbench`` imports this module, while importlib.abc costs more to import (it
    loads importlib.resources) than all the rest of it.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, cast("Loader", self))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # an ordinary module object

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__
        # stacklevel 2 is the import machinery, whose frames Python skips: the warning points
        # at the line that imported the old path.
        warnings.warn(module_message(name), DeprecationWarning, stacklevel=2)
        targets = MOVED_MODULES[name].targets()
        for old, (home, attr) in targets.items():
            setattr(module, old, getattr(importlib.import_module(home), attr))
        module.__all__ = list(targets)  # type: ignore[attr-defined]
        module.__doc__ = f"Deprecated: {module_message(name)}"


_FINDER = _OldModules()


def install() -> None:
    """Serve the removed modules' paths (idempotent; ``medganbench/__init__.py`` calls it).
    Appended last, so that no real module is ever shadowed."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


__all__ = [
    "MOVED_MODULES",
    "MOVED_NAMES",
    "REMOVED_IN",
    "Moved",
    "install",
    "module_message",
    "moved_name",
    "name_message",
]
