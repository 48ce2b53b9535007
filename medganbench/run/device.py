"""Device choice, seeding and peak-memory metering for runs."""

from __future__ import annotations

import platform
import random
import resource
import sys

import numpy as np
import torch

from medganbench.errors import UsageError


def pick_device(requested: str | None) -> torch.device:
    """CUDA when present, else CPU; ``requested`` (e.g. ``"cpu"``, ``"cuda:1"``) overrides.

    Raises:
        UsageError: the requested device is malformed or not available here.
    """
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise UsageError(
            f"--device {requested!r} is not a device name (try cpu or cuda)."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {requested} asked for CUDA, but no CUDA GPU is available here.")
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"--device {requested}: only cpu and cuda devices are supported.")
    return device


def device_name(device: torch.device) -> str:
    """A human name recorded on leaderboard rows (GPU model, or CPU architecture and threads)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu {platform.machine()} ({torch.get_num_threads()} threads)"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def reset_peak_memory(device: torch.device) -> None:
    """Start a fresh peak-memory measurement where the device allows it."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory in MiB: allocated GPU memory on CUDA; the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10
