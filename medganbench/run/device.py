"""Device choice, precision, seeding and peak-memory metering for runs."""

from __future__ import annotations

import functools
import platform
import random
import re
import resource
import sys
from pathlib import Path

import numpy as np
import torch

from medganbench.errors import UsageError
from medganbench.leaderboard.devices import SEPARATOR


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

#: Whether ``--precision auto`` uses bf16 on a CPU with native bf16. On: measured on an idle
#: Intel Xeon (KVM, 2 vCPUs, AVX-512 BF16 + AMX; torch 2.14.1), a bf16-autocast training step
#: at 64 px costs 0.53 to 0.84 times the CPU time of the fp32 step for every built-in GAN but
#: pix2pix (1.26 times), and ``cyclegan``'s is 1.88 times faster than before issue 17
#: (``benchmarks/README.md``). On a CPU shared with other jobs, oneDNN's multi-threaded bf16
#: weight-gradient kernels can cost many times more (measured there); a run's default thread
#: count, the cores left free at its start (:mod:`medganbench.run.threads`), avoids that unless
#: the load arrives later. ``--precision fp32`` keeps fp32 on any CPU.
AUTO_BF16_ON_CPU = True


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


def effective_precision(requested: str, device: torch.device, spatial_dims: int = 2) -> bool:
    """Whether a run asking for ``requested`` precision trains with bf16 autocast on ``device``.

    ``fp32`` never does; ``bf16`` always does where torch can run it (any CPU, emulated where
    the CPU lacks bf16 instructions; a CUDA GPU with bf16 support); ``auto`` does on a GPU with
    native bf16, and on a CPU with native bf16 while :data:`AUTO_BF16_ON_CPU` (on). A model of
    volumes (``spatial_dims`` 3) trains in fp32 on a CPU: oneDNN's bf16 ``Conv3d`` computes
    wrong weight gradients for small inputs (torch 2.14, measured: a 4³ kernel on a 3³ input,
    the last layer of a PatchGAN at 32³, is off by as much as the gradient itself), so
    ``auto`` falls back to fp32 there and ``bf16`` is refused.

    Raises:
        UsageError: ``bf16`` on a GPU that has no bf16 support, or for a 3-D model on a CPU.
    """
    if requested == "fp32":
        return False
    if spatial_dims == 3 and device.type == "cpu":
        if requested == "bf16":
            raise UsageError(
                "--precision bf16: 3-D models train in fp32 on a CPU (torch's CPU bf16 Conv3d "
                "gives wrong weight gradients for small volumes).",
                hint="Use --precision fp32 or auto (fp32 on a CPU for 3-D models).",
            )
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


#: Where Linux's NVIDIA driver states its version.
NVIDIA_DRIVER_VERSION = Path("/proc/driver/nvidia/version")


@functools.cache
def cpu_model_name() -> str:
    """The CPU's model name: ``model name`` in :data:`CPUINFO` on Linux, else what
    :mod:`platform` knows (the processor, else the architecture)."""
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return " ".join(value.split())
    return platform.processor() or platform.machine() or "unknown CPU"


def nvidia_driver_version() -> str | None:
    """The NVIDIA kernel driver's version from :data:`NVIDIA_DRIVER_VERSION`, if readable."""
    try:
        text = NVIDIA_DRIVER_VERSION.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.search(r"Kernel Module(?: for \S+)?\s+([0-9][0-9.]*)", text)
    return found.group(1) if found else None


def device_name(device: torch.device) -> str:
    """What the run's arithmetic depends on, recorded in the rows' ``device`` column.

    CPU: ``"cpu; <model name>; <ISA the kernels dispatch to>; <N> threads; torch <version>"``.
    The thread count is part of it because it changes how a reduction is split (and so its
    rounding) in oneDNN convolutions and in parallel sums. CUDA: ``"cuda; <GPU>; sm <major>.<minor>;
    CUDA <runtime>; cuDNN <version>; driver <version>; torch <version>"``. Fields are joined by
    :data:`~medganbench.leaderboard.devices.SEPARATOR`; tables show
    :func:`~medganbench.leaderboard.devices.short_device`. Rows of one run id whose device names
    differ are replicates (see :mod:`medganbench.leaderboard.devices`).
    """
    torch_field = f"torch {torch.__version__}"
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        fields = [
            "cuda",
            torch.cuda.get_device_name(device),
            f"sm {major}.{minor}",
            f"CUDA {torch.version.cuda}",
            f"cuDNN {torch.backends.cudnn.version()}",  # type: ignore[no-untyped-call]
            f"driver {nvidia_driver_version() or 'unknown'}",
            torch_field,
        ]
    else:
        fields = [
            "cpu",
            cpu_model_name(),
            torch.backends.cpu.get_cpu_capability(),
            f"{torch.get_num_threads()} threads",
            torch_field,
        ]
    return SEPARATOR.join(fields)


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
