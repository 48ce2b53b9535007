"""``python -m medganbench``: the same command line as the ``medganbench`` script."""

from medganbench.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    main()
