"""Component specs: what a plugin hook returns for each dataset, model, metric, encoder, executor,
tracker and weights artifact, and for each number a paper reports.

A spec names a component and points at its factory, either by import path
(``"package.module:attr"``, so listing components never imports them) or as the class itself.
:meth:`ComponentSpec.build` is the one way a component is made: it resolves the raw arguments
against the declared parameters, loads the factory, calls it and checks that the result honours
the kind's contract (a :class:`~medganbench.core.model.Model` subclass for a model, and so on).
The contract is named by import path too, so this module imports no contract (and no torch).
Specs are frozen: a registry holds them as given.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from medganbench.core.names import is_component_name
from medganbench.core.params import ArgValue, Param, resolve_args

# The weights specs live in their own module; they stay importable from this one.
from medganbench.core.weights_specs import Reporter as Reporter
from medganbench.core.weights_specs import Source as Source
from medganbench.core.weights_specs import WeightsSpec as WeightsSpec
from medganbench.errors import PluginError, UsageError

_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class ComponentSpec:
    """Fields shared by every kind of component.

    Attributes:
        name: registry key: lower case, digits and hyphens (``"intensity-lookup"``).
        summary: one line for ``medganbench list``.
        version: bumped whenever the component's results could change; written on every
            leaderboard row so results of different versions are never ranked together.
        factory: ``"module:attr"`` of the callable that builds the component, or the callable
            (usually the class) itself.
        params: declared arguments (see :class:`medganbench.core.params.Param`).

    Class attributes:
        kind: the kind's name in messages (``"model"``).
        contract: ``"module:attr"`` of the base class every built component must be an instance
            of; empty for kinds without one.
    """

    kind: ClassVar[str] = "component"
    contract: ClassVar[str] = ""

    name: str
    summary: str
    version: str
    factory: str | Callable[..., Any]
    params: tuple[Param, ...] = field(default=())

    def __post_init__(self) -> None:
        if not is_component_name(self.name):
            raise PluginError(
                f"Component name {self.name!r} is invalid.",
                hint="Use lower case letters, digits and hyphens, starting with a letter.",
            )
        if isinstance(self.factory, str):
            if not _FACTORY.match(self.factory):
                raise PluginError(
                    f"{self.name}: factory {self.factory!r} is not of the form 'package.module:attr'."
                )
        elif not callable(self.factory):
            raise PluginError(
                f"{self.name}: factory {self.factory!r} is neither 'package.module:attr' nor callable."
            )
        if not self.version:
            raise PluginError(f"{self.name}: a version string is required.")

    def load(self) -> Callable[..., Any]:
        """Import and return the factory.

        Raises:
            PluginError: the module or attribute cannot be imported.
        """
        if isinstance(self.factory, str):
            return import_ref(self.factory, self.name)  # type: ignore[no-any-return]
        return self.factory

    def resolve(self, raw_args: Mapping[str, ArgValue]) -> dict[str, ArgValue]:
        """Check ``raw_args`` against :attr:`params` and fill in defaults.

        Raises:
            UnknownNameError: an argument is not declared.
            UsageError: a value does not parse or is not allowed.
        """
        return resolve_args(self.params, raw_args, f"{self.kind} {self.name!r}")

    def build(self, raw_args: Mapping[str, ArgValue], ctx: Any = None) -> Any:
        """Resolve the arguments, load the factory, call it and check the contract.

        The factory is called as ``factory(args, ctx)``, or ``factory(args)`` when ``ctx`` is
        ``None`` (executors take no context).

        Raises:
            UnknownNameError, UsageError: see :meth:`resolve`.
            PluginError: the factory cannot be imported, or did not build an instance of the
                kind's contract.
        """
        args = self.resolve(raw_args)
        factory = self.load()
        built = factory(args) if ctx is None else factory(args, ctx)
        if self.contract:
            base = import_ref(self.contract, self.kind)
            if not isinstance(built, base):
                raise PluginError(
                    f"The {self.kind} {self.name!r} built a {type(built).__name__}, which is not a "
                    f"{base.__module__}.{base.__qualname__}.",
                    hint=f"Derive the {self.kind} from {base.__qualname__} (see docs/plugins.md).",
                )
        return built


def import_ref(ref: str, owner: str) -> Any:
    """Import ``"package.module:attr"`` (``attr`` may be dotted) and return the object.

    Raises:
        PluginError: the module or attribute cannot be imported (named with ``owner``).
    """
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise PluginError(
            f"{owner}: cannot import {ref!r}: {exc}",
            hint="Is the plugin's package installed in this environment?",
        ) from exc
    return obj


def load_ref(ref: str | Callable[..., Any], owner: str) -> Callable[..., Any]:
    """A function given as itself or as ``"package.module:attr"`` (see :func:`import_ref`)."""
    return import_ref(ref, owner) if isinstance(ref, str) else ref


@dataclass(frozen=True)
class DatasetSpec(ComponentSpec):
    """A dataset component; its factory is called as ``factory(args, DatasetContext)``.

    Extra attributes (shown by ``medganbench list datasets``; a *function* is given as itself
    or as its ``"module:function"``):
        modality: e.g. ``"MR → CT"`` or ``"CT"``.
        pairing: the pairing in words, e.g. ``"paired (paired=false: unpaired)"``.
        paired: whether A and B of an item show the same anatomy, known without building the
            dataset (the default metrics of a run follow it): a constant, or a function of the
            resolved arguments where an argument decides.
            It must agree with the built dataset's ``info.paired`` (a contract test checks).
        size: the expected size in words, e.g. ``"4974 slices"``.
        spatial_dims: 2 (items are images) or 3 (items are volumes), known without building the
            dataset (the default metrics of a run follow it): a constant, or a function of the
            resolved arguments where an argument decides (a volume dataset's ``dims``). It
            must agree with the built dataset's ``info.spatial_dims`` (a contract test checks).
        image_size: the side a run of this dataset uses without ``--image-size`` (a volume
            dataset's natural size: ``phantom-brain-3d`` 32); ``None``: the global default
            (:data:`medganbench.defaults.IMAGE_SIZE`).
        modalities: the modalities of domains A and B (``("MR", "CT")``), known without
            building the dataset, to name directions ("MR → CT"): a constant pair, or a
            function of the resolved arguments; ``None`` reads them from ``modality`` when it is
            two words ``"X → Y"``.
        locate: a function ``(args, ctx)`` returning the data root if the files are present
            locally, else ``None`` (for datasets one must download).
        download: a function ``(args, ctx, report)``: fetches the files (``medganbench datasets
            download NAME``) and returns the root, or raises
            :class:`~medganbench.errors.DataError` with manual instructions.
    """

    kind: ClassVar[str] = "dataset"
    contract: ClassVar[str] = "medganbench.core.dataset:Dataset"

    modality: str = ""
    pairing: str = ""
    paired: bool | str | Callable[..., bool] = False
    size: str = ""
    spatial_dims: int | str | Callable[..., int] = 2
    image_size: int | None = None
    locate: str | Callable[..., Any] | None = None
    download: str | Callable[..., Any] | None = None
    modalities: tuple[str, str] | str | Callable[..., tuple[str, str]] | None = None

    def locator(self) -> Callable[..., Any] | None:
        """:attr:`locate`, imported (``None`` if unset); raises PluginError if it cannot be."""
        return None if self.locate is None else load_ref(self.locate, self.name)

    def downloader(self) -> Callable[..., Any] | None:
        """:attr:`download`, imported (``None`` if unset); raises PluginError if it cannot be."""
        return None if self.download is None else load_ref(self.download, self.name)

    def resolve(self, raw_args: Mapping[str, ArgValue]) -> dict[str, ArgValue]:
        """As :meth:`ComponentSpec.resolve`, with one hint: ``eval_grid``, a dataset argument
        until it became the run option ``--eval-grid``, is refused pointing there.

        Raises:
            UsageError: ``eval_grid`` given, and the dataset declares no such argument.
        """
        if "eval_grid" in raw_args and all(p.name != "eval_grid" for p in self.params):
            raise UsageError(
                f"eval_grid is not an argument of dataset {self.name!r}: it is a run option now.",
                hint="Use --eval-grid native (medganbench run or score; eval_grid in a sweep).",
            )
        return super().resolve(raw_args)

    def domain_modalities(self, raw_args: Mapping[str, ArgValue]) -> tuple[str, str] | None:
        """The modalities of domains A and B with these arguments (see :attr:`modalities`);
        ``None`` where the spec does not say.

        Raises:
            UnknownNameError, UsageError: the arguments do not resolve.
            PluginError: the ``modalities`` function cannot be imported.
        """
        if isinstance(self.modalities, tuple):
            return self.modalities
        if self.modalities is not None:
            a, b = load_ref(self.modalities, self.name)(self.resolve(raw_args))
            return str(a), str(b)
        found = re.fullmatch(r"\s*(\w+)\s*→\s*(\w+)\s*", self.modality)
        return (found.group(1), found.group(2)) if found else None

    def dimensions(self, raw_args: Mapping[str, ArgValue]) -> int:
        """2 or 3: the dimensions of the items the dataset built with these arguments serves
        (see :attr:`spatial_dims`).

        Raises:
            UnknownNameError, UsageError: the arguments do not resolve.
            PluginError: the ``spatial_dims`` function cannot be imported.
        """
        if isinstance(self.spatial_dims, int):
            return self.spatial_dims
        return int(load_ref(self.spatial_dims, self.name)(self.resolve(raw_args)))

    def is_paired(self, raw_args: Mapping[str, ArgValue]) -> bool:
        """Whether the dataset built with these arguments is paired (see :attr:`paired`).

        Raises:
            UnknownNameError, UsageError: the arguments do not resolve.
            PluginError: the ``paired`` function cannot be imported.
        """
        if isinstance(self.paired, bool):
            return self.paired
        return bool(load_ref(self.paired, self.name)(self.resolve(raw_args)))


@dataclass(frozen=True)
class ModelSpec(ComponentSpec):
    """A model component; its factory is called as ``factory(args, ModelContext)``."""

    kind: ClassVar[str] = "model"
    contract: ClassVar[str] = "medganbench.core.model:Model"


@dataclass(frozen=True)
class MetricSpec(ComponentSpec):
    """A metric component; its factory is called as ``factory(args, MetricContext)``."""

    kind: ClassVar[str] = "metric"
    contract: ClassVar[str] = "medganbench.core.metric:Metric"


@dataclass(frozen=True)
class ExecutorSpec(ComponentSpec):
    """A sweep executor; its factory is called as ``factory(args)`` and returns a
    :class:`medganbench.sweep.executor.Executor`.

    An executor decides where and how many trials run at once, never what a trial computes, so
    its name and version are not part of any run's identity.
    """

    kind: ClassVar[str] = "executor"
    contract: ClassVar[str] = "medganbench.sweep.executor:Executor"


@dataclass(frozen=True)
class EncoderSpec(ComponentSpec):
    """A feature encoder for the distribution metrics (``medganbench_encoders`` hook); its
    factory is called as ``factory(args, EncoderContext)`` and returns a
    :class:`medganbench.core.encoder.Encoder` (the contract is stated there).

    Extra attributes:
        weights: the pretrained-weights artifact the encoder loads, or ``None``. Register it
            through ``medganbench_weights`` too, so ``medganbench weights`` lists and installs it.
    """

    kind: ClassVar[str] = "encoder"
    contract: ClassVar[str] = "medganbench.core.encoder:Encoder"

    weights: WeightsSpec | None = None


@dataclass(frozen=True)
class TrackerSpec(ComponentSpec):
    """An experiment tracker (``medganbench_trackers`` hook); its factory is called as
    ``factory(args, TrackerContext)`` and returns a :class:`medganbench.core.tracker.Tracker`
    (the contract is stated there).

    A tracker mirrors what a run records and cannot change a result, so its name, version and
    arguments are not part of any run's identity.

    Extra attributes:
        requires: the top-level modules the tracker imports when it is built
            (``("tensorboard",)``); :meth:`build` checks, without importing them, that they are
            installed, so a missing package is one message before training starts.
        install: the command that installs them (``"pip install 'medganbench[tensorboard]'"``);
            empty: ``pip install`` of the missing modules' names.
    """

    kind: ClassVar[str] = "tracker"
    contract: ClassVar[str] = "medganbench.core.tracker:Tracker"

    requires: tuple[str, ...] = ()
    install: str = ""

    def missing(self) -> tuple[str, ...]:
        """The modules of :attr:`requires` that are not installed (found without importing)."""
        return tuple(m for m in self.requires if importlib.util.find_spec(m) is None)

    def check_installed(self) -> None:
        """Raise unless every module the tracker needs is installed.

        Raises:
            UsageError: one names the missing package(s) and the command that installs them.
        """
        missing = self.missing()
        if missing:
            install = self.install or f"pip install {' '.join(missing)}"
            raise UsageError(
                f"The tracker {self.name!r} needs {', '.join(missing)}, which is not installed "
                f"here: {install}",
                hint=f"Or run without --tracker {self.name}: no tracker is needed for a run.",
            )

    def build(self, raw_args: Mapping[str, ArgValue], ctx: Any = None) -> Any:
        """As :meth:`ComponentSpec.build`, after :meth:`check_installed`.

        Raises:
            UsageError: a module the tracker needs is not installed; see also
                :meth:`ComponentSpec.build`.
        """
        self.check_installed()
        return super().build(raw_args, ctx)


@dataclass(frozen=True)
class ReportedResult:
    """A number a source paper reports: shown on the published site, never ranked.

    Attributes:
        source: short citation, e.g. ``"paper 000 (HLSNC-GAN)"``.
        table: where in the paper, e.g. ``"Table 9"``.
        method: the method's name as the paper prints it.
        model: the registered model it corresponds to, if any.
        dataset: the registered dataset it was reported on.
        direction: ``"a2b"`` or ``"b2a"`` in the dataset's domains (sampling models: ``"a2b"``).
        metric: the registered metric name.
        value: the number as printed.
        image_size: the resolution it was reported at, if stated.
        note: caveats (conventions, budgets) a reader needs.
    """

    source: str
    table: str
    method: str
    model: str | None
    dataset: str
    direction: str
    metric: str
    value: float
    image_size: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("source", "table", "method", "dataset", "direction", "metric"):
            if not str(getattr(self, name)).strip():
                raise PluginError(f"Reported result {self.method!r}: {name} must not be empty.")
        if not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise PluginError(
                f"Reported result {self.method!r} ({self.table}): value {self.value!r} is not a finite number."
            )
