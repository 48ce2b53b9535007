"""Built-in medganbench plugins (import package ``medganbench_plugins``).

Each module here is one plugin: it implements hooks from :mod:`medganbench.hookspecs` and is
named in :data:`medganbench.plugins.BUILTIN_PLUGINS`.
"""
