"""Training throughput of the built-in GANs on one device: images/s, peak memory and MFU.

For each model the script builds the model at its paper defaults (or narrow networks with
``--tiny``), trains a few warm-up steps on random one-channel images, then times ``--steps``
steps, waiting for the device at the end only (as the runner does between loss reads). It prints
a markdown table and, with ``--out``, writes it to a file:

- images/s: real images per domain per second (batch size × steps / seconds);
- peak memory: the largest GPU memory allocated (CUDA), or the process's peak RSS (CPU);
- MFU (model FLOP utilisation): FLOPs of one training step, counted by the runner's counter
  (:func:`medganbench.run.flops.count_flops`, a multiply-add is 2 FLOPs), divided by the step
  time and by the device's dense peak for the precision (:data:`PEAK_TFLOPS`). Left empty for
  devices not in the table (every CPU).

``benchmarks/gpu.sh`` runs it on a GPU at 256 px in bf16 with channels-last, and the 3-D models
on 128³ volumes. Example on CPU: ``python benchmarks/throughput.py --device cpu --image-size 32
--tiny --steps 2``; a 3-D model's figures are per step on ``--image-size``³ volumes
(``--models hagan3d``; on a CPU one model per process, as the peak memory is the process's).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.model import Model, ModelContext, TrainBatch
from medganbench.run.device import device_name, peak_memory_mb, reset_peak_memory
from medganbench.run.flops import PROBE_DATASET, count_flops, probe_geometry

#: Dense peak TFLOPS (no structured sparsity) per GPU and precision, from NVIDIA's datasheets:
#: "NVIDIA H100 Tensor Core GPU" datasheet (H100 SXM5 / PCIe: BF16 989.4 / 756 with sparsity
#: halved, FP32 66.9 / 51.2); "NVIDIA H200 Tensor Core GPU" datasheet (H200 SXM: BF16 989,
#: FP32 67); "NVIDIA A100 Tensor Core GPU" datasheet (A100 SXM and PCIe: BF16 312, FP32 19.5).
#: fp32 is the CUDA-core peak; PyTorch runs fp32 convolutions as TF32 on tensor cores by
#: default (torch.backends.cudnn.allow_tf32), so fp32 MFU can exceed what the name suggests.
#: Matched against the device name in this order (first hit wins).
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200", {"bf16": 989.0, "fp32": 67.0}),
    ("H100 PCIe", {"bf16": 756.0, "fp32": 51.2}),
    ("H100", {"bf16": 989.4, "fp32": 66.9}),
    ("A100", {"bf16": 312.0, "fp32": 19.5}),
)

MODELS = ("cyclegan", "hlsnc", "pix2pix", "hagan")
#: The 3-D models (``--models`` names them; ``--image-size`` is then the cube's side).
MODELS_3D = ("dcgan3d", "wgan-gp3d", "pix2pix3d", "hagan3d")

#: Narrow networks for a quick check of the script itself (``--tiny``).
TINY_ARGS: dict[str, dict[str, str]] = {
    "cyclegan": {"ngf": "4", "ndf": "4", "n_blocks": "1"},
    "hlsnc": {"ngf": "4", "ndf": "4", "n_blocks": "1"},
    "pix2pix": {"ngf": "4", "ndf": "4"},
    "hagan": {"ngf": "4", "ndf": "4", "batch_size": "2"},
    "dcgan3d": {"ngf": "4", "ndf": "4", "batch_size": "2"},
    "wgan-gp3d": {"ngf": "4", "ndf": "4", "batch_size": "2"},
    "pix2pix3d": {"ngf": "4", "ndf": "4"},
    "hagan3d": {"channels": "16", "latent_dim": "64", "batch_size": "2"},
}


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One model's figures."""

    model: str
    batch_size: int
    step_ms: float
    images_per_s: float
    peak_memory_mb: float
    gflops_per_step: float
    mfu: float | None


def peak_tflops(name: str, precision: str) -> float | None:
    """The device's dense peak for ``precision`` (``"bf16"`` or ``"fp32"``), if known."""
    for key, peaks in PEAK_TFLOPS:
        if key in name:
            return peaks[precision]
    return None


def _batch(
    n: int, size: int, device: torch.device, channels_last: bool, dims: int = 2
) -> TrainBatch:
    gen = torch.Generator().manual_seed(0)
    last = torch.channels_last if dims == 2 else torch.channels_last_3d
    fmt = last if channels_last else torch.contiguous_format

    def image() -> torch.Tensor:
        x = torch.rand(n, 1, *(size,) * dims, generator=gen) * 2 - 1
        return x.to(device).contiguous(memory_format=fmt)

    a, b = image(), image()
    return TrainBatch(a, b, a > -1, b > -1, True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    name: str,
    *,
    device: torch.device,
    size: int,
    bf16: bool,
    channels_last: bool,
    steps: int,
    warmup: int,
    args: dict[str, str],
) -> Measurement:
    """Build ``name``, warm it up and time ``steps`` training steps."""
    registries = build_registries(make_plugin_manager(autoload=False))
    spec = registries.models.get(name)
    dims = getattr(spec.load(), "spatial_dims", 2)
    # A 3-D model trains on size³ volumes (the probe geometry of medganbench list --details).
    volume = probe_geometry(size) if dims == 3 else None
    info = dataclasses.replace(PROBE_DATASET, image_size=size, volume=volume)
    torch.manual_seed(0)
    ctx = ModelContext(size, info, device, 0, amp=bf16, channels_last=channels_last)
    model: Model = spec.build(args, ctx)
    batch = _batch(model.batch_size, size, device, channels_last, dims)
    model.train_mode()
    model.set_progress(0.0)
    _, flops = count_flops(lambda: model.train_step(batch))
    for _ in range(warmup):
        model.train_step(batch)
    _sync(device)
    reset_peak_memory(device)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_step(batch)
    _sync(device)
    seconds = (time.perf_counter() - start) / steps
    peak = peak_tflops(device_name(device), "bf16" if bf16 else "fp32")
    return Measurement(
        model=name,
        batch_size=model.batch_size,
        step_ms=seconds * 1000,
        images_per_s=model.batch_size / seconds,
        peak_memory_mb=peak_memory_mb(device),
        gflops_per_step=flops / 1e9,
        mfu=None if peak is None else flops / seconds / (peak * 1e12),
    )


def table(rows: Sequence[Measurement], header: str) -> str:
    """The markdown table of ``rows`` under a one-line description of the setting."""
    lines = [
        header,
        "",
        "| model | batch | step | images/s | peak memory | GFLOPs/step | MFU |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mfu = "n/a" if r.mfu is None else f"{100 * r.mfu:.1f} %"
        lines.append(
            f"| `{r.model}` | {r.batch_size} | {r.step_ms:.1f} ms | {r.images_per_s:.1f} "
            f"| {r.peak_memory_mb:.0f} MiB | {r.gflops_per_step:.4g} | {mfu} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--tiny", action="store_true", help="narrow networks (tests the script)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    opts = parser.parse_args(argv)
    device = torch.device(opts.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device here (use --device cpu)", file=sys.stderr)
        return 2
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []
    for name in opts.models.split(","):
        rows.append(
            measure(
                name,
                device=device,
                size=opts.image_size,
                bf16=opts.precision == "bf16",
                channels_last=opts.channels_last,
                steps=opts.steps,
                warmup=opts.warmup,
                args=TINY_ARGS[name] if opts.tiny else {},
            )
        )
        print(f"measured {name}", file=sys.stderr, flush=True)
    header = (
        f"Device: {device_name(device)}; torch {torch.__version__}, Python "
        f"{platform.python_version()}; {opts.image_size} px, {opts.precision}, "
        f"{'channels-last' if opts.channels_last else 'contiguous'}; {opts.steps} timed steps "
        f"after {opts.warmup} warm-up{' (tiny networks)' if opts.tiny else ''}."
    )
    text = table(rows, header)
    print(text)
    if opts.out is not None:
        opts.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
