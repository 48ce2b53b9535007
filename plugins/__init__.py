"""Built-in medganbench plugins. This folder is imported as ``medganbench_plugins``.

Each module here is one plugin: it implements hooks from :mod:`medganbench.core.hookspecs` and is
named in :data:`medganbench.core.manager.BUILTIN_PLUGINS`.
"""
