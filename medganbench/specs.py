"""Component specs: what a plugin hook returns for each dataset, model and metric.

A spec names a component and points at its factory by import path (``"package.module:attr"``),
so listing components never has to build them. Specs are frozen: a registry holds them as given.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medganbench.errors import PluginError
from medganbench.params import Param

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class ComponentSpec:
    """Fields shared by every kind of component.

    Attributes:
        name: registry key: lower case, digits and hyphens (``"intensity-lookup"``).
        summary: one line for ``medganbench list``.
        version: bumped whenever the component's results could change; written on every
            leaderboard row so results of different versions are never ranked together.
        factory: ``"module:attr"`` of the callable that builds the component.
        params: declared arguments (see :class:`medganbench.params.Param`).
    """

    name: str
    summary: str
    version: str
    factory: str
    params: tuple[Param, ...] = field(default=())

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise PluginError(
                f"Component name {self.name!r} is invalid.",
                hint="Use lower case letters, digits and hyphens, starting with a letter.",
            )
        if not _FACTORY.match(self.factory):
            raise PluginError(
                f"{self.name}: factory {self.factory!r} is not of the form 'package.module:attr'."
            )
        if not self.version:
            raise PluginError(f"{self.name}: a version string is required.")

    def load(self) -> Callable[..., Any]:
        """Import and return the factory.

        Raises:
            PluginError: the module or attribute cannot be imported.
        """
        return import_ref(self.factory, self.name)


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


@dataclass(frozen=True)
class DatasetSpec(ComponentSpec):
    """A dataset component; its factory is called as ``factory(args, DatasetContext)``.

    Extra attributes (shown by ``medganbench list datasets``):
        modality: e.g. ``"MR → CT"`` or ``"CT"``.
        pairing: ``"paired"``, ``"unpaired"`` or ``"either"``.
        size: the expected size in words, e.g. ``"4974 slices"``.
        locate: ``"module:function"`` called as ``function(args, ctx)`` returning the data root
            if the files are present locally, else ``None`` (for datasets one must download).
        download: ``"module:function"`` called as ``function(args, ctx, report)``: fetches the
            files (``medganbench datasets download NAME``) and returns the root, or raises
            :class:`~medganbench.errors.DataError` with manual instructions.
    """

    modality: str = ""
    pairing: str = ""
    size: str = ""
    locate: str | None = None
    download: str | None = None


@dataclass(frozen=True)
class ModelSpec(ComponentSpec):
    """A model component; its factory is called as ``factory(args, ModelContext)``."""


@dataclass(frozen=True)
class MetricSpec(ComponentSpec):
    """A metric component; its factory is called as ``factory(args, MetricContext)``."""


@dataclass(frozen=True)
class ExecutorSpec(ComponentSpec):
    """A sweep executor; its factory is called as ``factory(args)`` and returns a
    :class:`medganbench.executor.Executor`.

    An executor decides where and how many trials run at once, never what a trial computes, so
    its name and version are not part of any run's identity.
    """


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
            raise PluginError(f"Reported result {self.method!r} ({self.table}): value {self.value!r} is not a finite number.")
