"""Device choice, precision, seeding and peak-memory metering for runs."""

from __future__ import annotations

import functools
import platform
import random
import resource
import sys
from pathlib import Path

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


#: CPU feature flags (``/proc/cpuinfo``) that mean native bf16 arithmetic: AVX-512 BF16 and AMX
#: on x86, the BF16 extension on Arm.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})

#: Where Linux lists the CPU's feature flags.
CPUINFO = Path("/proc/cpuinfo")

#: Whether ``--precision auto`` uses bf16 on a CPU with native bf16. Off: measured on an Intel
#: Xeon (KVM, 2 vCPUs, AVX-512 BF16 + AMX; torch 2.14.1), a bf16-autocast training step at
#: 64 px took 1.1 to 2.7 times the CPU time of the fp32 step for every built-in GAN
#: (``benchmarks/README.md``): oneDNN's per-call reorders and its slow bf16 transposed
#: convolutions outweigh AMX at these sizes. ``--precision bf16`` still trains in bf16 on any
#: CPU.
AUTO_BF16_ON_CPU = False


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (read from :data:`CPUINFO`; False elsewhere).

    Without such instructions bf16 is emulated and much slower than fp32.
    """
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features") and BF16_CPU_FLAGS & set(value.split()):
            return True
    return False


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` has bf16 arithmetic in hardware (a bf16-capable GPU or CPU)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    return cpu_has_native_bf16()


def effective_precision(requested: str, device: torch.device) -> bool:
    """Whether a run asking for ``requested`` precision trains with bf16 autocast on ``device``.

    ``fp32`` never does; ``bf16`` always does where torch can run it (any CPU, emulated where
    the CPU lacks bf16 instructions; a CUDA GPU with bf16 support); ``auto`` does on a GPU with
    native bf16, and on a CPU with native bf16 only if :data:`AUTO_BF16_ON_CPU` (off).

    Raises:
        UsageError: ``bf16`` on a GPU that has no bf16 support.
    """
    if requested == "fp32":
        return False
    if requested == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise UsageError(
                f"--precision bf16: {torch.cuda.get_device_name(device)} does not support bf16.",
                hint="Use --precision fp32 (or auto, which falls back to fp32).",
            )
        return True
    if device.type == "cpu" and not AUTO_BF16_ON_CPU:
        return False
    return bf16_native(device)


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
