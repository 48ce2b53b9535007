"""Templates of every kind of medganbench plugin, one module each (see ``pyproject.toml``)."""
