"""Built-in sweep executors: local (sequential or worker processes) and Ray.

Owns: where and how many trials of a sweep run at once.

May import: core, sweep.
"""
