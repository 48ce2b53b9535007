"""Loading plugins one at a time, so that one broken plugin never hides the others.

Every plugin has a :class:`PluginOrigin`: its name, the distribution that provides it and, for
third-party plugins, its entry point. A plugin that fails to import, or that implements a hook
that does not exist, is recorded as a :class:`BrokenPlugin` instead of stopping the load; the
caller decides whether that is fatal (a run: yes, one message naming the package and the entry
point) or something to show (``medganbench plugins``). ``MEDGANBENCH_DISABLE_PLUGINS=a,b``
skips the named plugins, built-in or not.

Messages about a plugin name it by its origin (:meth:`PluginOrigin.describe`), never by the
object: pluggy's own messages carry the plugin's repr, which for a module is
``<module 'x' from '/absolute/path/x.py'>`` (a path of the user's machine, and noise).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from medganbench.errors import PluginError

#: Environment variable: comma-separated plugin names to leave out.
DISABLE_ENV = "MEDGANBENCH_DISABLE_PLUGINS"
#: The "package" of a plugin object registered by hand (tests, notebooks): it has none.
DIRECT = "(registered directly)"


@dataclass(frozen=True)
class PluginOrigin:
    """Where a plugin comes from.

    Attributes:
        name: the plugin's name (a built-in's module, a third-party plugin's entry point name).
        distribution: the package that provides it, e.g. ``"my-plugins"``.
        version: that package's version.
        entry_point: ``"name = module:attr"`` for entry-point plugins, else ``""``.
        builtin: whether it is one of medganbench's own plugins.
    """

    name: str
    distribution: str
    version: str
    entry_point: str = ""
    builtin: bool = False

    @property
    def package(self) -> str:
        """``"my-plugins 1.0"``, ``"medganbench 0.2.0 (built-in)"``."""
        text = f"{self.distribution} {self.version}".strip()
        return f"{text} (built-in)" if self.builtin else text

    def describe(self) -> str:
        """``plugin 'x' (package my-plugins 1.0, entry point x = my_plugins.x)``;
        ``built-in plugin 'medganbench_plugins.models.identity' (medganbench 0.2.0)``;
        ``plugin 'Probe' (registered directly)``."""
        if self.builtin:
            return f"built-in plugin {self.name!r} ({self.distribution} {self.version})"
        if self.distribution == DIRECT:
            return f"plugin {self.name!r} {DIRECT}"
        where = f", entry point {self.entry_point}" if self.entry_point else ""
        return f"plugin {self.name!r} (package {self.package}{where})"


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded, and why (one line)."""

    origin: PluginOrigin
    problem: str

    def message(self) -> str:
        return f"The {self.origin.describe()} {self.problem}."

    def hint(self) -> str:
        who = self.origin.distribution or "its package"
        return (
            f"Fix or uninstall {who}, or leave this plugin out with "
            f"{DISABLE_ENV}={self.origin.name}."
        )


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that also knows each plugin's origin and which plugins failed.

    Attributes:
        origins: plugin name → :class:`PluginOrigin`, for every registered plugin.
        broken: plugins that could not be loaded (not registered).
        disabled: plugin names left out through :data:`DISABLE_ENV`.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.origins: dict[str, PluginOrigin] = {}
        self.broken: list[BrokenPlugin] = []
        self.disabled: list[str] = []

    def add(self, plugin: Any, origin: PluginOrigin) -> None:
        """Register ``plugin`` under its origin's name."""
        self.register(plugin, name=origin.name)
        self.origins[origin.name] = origin

    def origin_of(self, name: str) -> PluginOrigin:
        """The origin of a registered plugin (plugins registered by hand: their name only)."""
        return self.origins.get(name, PluginOrigin(name, DIRECT, ""))

    def register_direct(self, plugin: Any) -> None:
        """Register a plugin object by hand (``make_plugin_manager(extra=...)``).

        Raises:
            PluginError: pluggy refuses one of its hooks (arguments a hook does not pass); the
                message names the plugin by its module's or class's name, never its repr.
        """
        try:
            self.register(plugin)
        except pluggy.PluginValidationError as exc:
            origin = PluginOrigin(display_name(plugin), DIRECT, "")
            raise PluginError(f"The {origin.describe()} {validation_problem(self, exc)}.") from None

    def hook_names(self) -> list[str]:
        """The hooks that exist (those with a spec), sorted."""
        return sorted(
            name
            for name, caller in vars(self.hook).items()
            if not name.startswith("_") and caller.has_spec()
        )


def disabled_names() -> set[str]:
    """The plugin names :data:`DISABLE_ENV` lists."""
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_entry_points(pm: PluginManager, group: str) -> None:
    """Import and register every plugin of the entry-point ``group``, one at a time.

    A plugin that fails to import, or whose name is taken, goes to ``pm.broken``; a disabled one
    to ``pm.disabled``. Nothing raises.
    """
    skip = disabled_names()
    for entry in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        dist = entry.dist
        origin = PluginOrigin(
            entry.name,
            dist.metadata["Name"] if dist is not None else "(unknown package)",
            dist.version if dist is not None else "",
            f"{entry.name} = {entry.value}",
        )
        if entry.name in skip:
            pm.disabled.append(entry.name)
            continue
        try:
            plugin = entry.load()
        except Exception as exc:  # noqa: BLE001 - any failure of someone else's import
            pm.broken.append(BrokenPlugin(origin, f"failed to import ({_one_line(exc)})"))
            continue
        if pm.has_plugin(entry.name) or pm.is_registered(plugin):
            pm.broken.append(BrokenPlugin(origin, "has the name of a plugin already loaded"))
            continue
        try:
            pm.add(plugin, origin)
        except pluggy.PluginValidationError as exc:
            # pluggy checks each hook's arguments at registration and, on failure, leaves the
            # manager as it was: the plugin is simply not loaded.
            pm.broken.append(BrokenPlugin(origin, validation_problem(pm, exc)))


def drop_invalid(pm: PluginManager) -> None:
    """Move third-party plugins that implement unknown hooks to ``pm.broken``.

    Raises:
        PluginError: a built-in or hand-registered plugin does (a bug in medganbench, or the
            caller's own plugin object): one message naming the plugin and each unknown hook,
            with the hook it was probably meant to be.
    """
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin)
            origin = pm.origins.get(name) if name else None
            if origin is None or origin.builtin or not origin.entry_point:
                if origin is None:
                    origin = PluginOrigin(display_name(exc.plugin), DIRECT, "")
                raise PluginError(
                    f"The {origin.describe()} {validation_problem(pm, exc)}.",
                    hint=f"The hooks are: {', '.join(pm.hook_names())}.",
                ) from None
            problem = validation_problem(pm, exc)
            pm.unregister(exc.plugin)
            del pm.origins[origin.name]
            pm.broken.append(BrokenPlugin(origin, problem))


def display_name(plugin: Any) -> str:
    """A hand-registered plugin's name for messages: its module's (or class's) name, else its
    class's; never its repr (a module's holds an absolute path)."""
    name = getattr(plugin, "__name__", None)
    return name if isinstance(name, str) else type(plugin).__name__


def validation_problem(pm: PluginManager, exc: pluggy.PluginValidationError) -> str:
    """What is wrong with a plugin pluggy refused, as a phrase after the plugin's description.

    ``implements unknown hook 'medganbench_model' (did you mean 'medganbench_models'?)`` for
    each hook without a spec (what :meth:`~pluggy.PluginManager.check_pending` finds: a misspelt
    hook would otherwise never be called); otherwise pluggy's own explanation on one line, with
    any object repr cut out.
    """
    callers = pm.get_hookcallers(exc.plugin) or []
    unknown = sorted(caller.name for caller in callers if not caller.has_spec())
    if not unknown:
        text = " ".join(str(exc).split())
        arguments = _EXTRA_ARGUMENTS.search(text)
        if arguments:
            definition, names = arguments.groups()
            return f"implements {definition}, but the hook passes no argument {names}"
        # pluggy starts with "Plugin 'name' for hook ...": the caller has named the plugin.
        text = re.sub(r"^Plugin '[^']*' (for )?", "", text)
        return f"has an invalid hook ({_REPR.sub('the plugin', text)})"
    known = pm.hook_names()
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    hooks = "hooks" if len(unknown) > 1 else "hook"
    return f"implements unknown {hooks} {', '.join(parts)}"


#: An object's default repr, e.g. ``<module 'x' from '/abs/x.py'>``.
_REPR = re.compile(r"<[^<>]*>")
#: pluggy's refusal of a hook implementation that declares arguments the hook does not have.
_EXTRA_ARGUMENTS = re.compile(
    r"hookimpl definition: (.*?\)) Argument\(s\) \{(.*?)\} are declared in the hookimpl"
)
