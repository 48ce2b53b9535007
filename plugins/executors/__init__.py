"""Built-in sweep executors: local (sequential or worker processes) and Ray."""
