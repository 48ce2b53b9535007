"""One run on 1 and on N devices, side by side: global images per second and device-seconds.

Trains ``cyclegan`` (one image per device, so N devices take N images per step) for the same
number of steps on one device and on N, through ``medganbench run --devices``, and appends a
markdown table to ``--out``: the global batch, training images/s over all devices, the
device-seconds of the budget, and the scaling efficiency (images/s on N ÷ N × images/s on one).
``benchmarks/gpu.sh`` runs it on a machine with several GPUs; a CPU check of the script itself:

    python3 benchmarks/devices.py --device cpu --devices 2 --image-size 32 --steps 2 --tiny
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

TINY = ("--model-arg=ngf=8", "--model-arg=ndf=8", "--model-arg=n_blocks=1")


def _run(devices: int, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    command = [
        sys.executable,
        *("-m", "medganbench", "run", "--model=cyclegan", "--metrics=psnr", "--no-progress"),
        f"--image-size={args.image_size}",
        f"--budget=steps={args.steps}",
        f"--devices={devices}",
        f"--device={args.device}",
        f"--runs-dir={folder / 'runs'}",
        f"--leaderboard-dir={folder / 'leaderboards'}",
        *(TINY if args.tiny else ()),
    ]
    subprocess.run(command, check=True, capture_output=True)
    (result,) = (folder / "runs").glob("*/result.json")
    ledger = json.loads(result.read_text())["ledger"]
    return {
        "global_batch": ledger["global_batch"],
        "images_per_s": ledger["images"] / ledger["train_seconds"],
        "device_seconds": ledger["device_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--tiny", action="store_true", help="small networks (a quick check)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/gpu-results.md"))
    args = parser.parse_args()
    lines = [
        f"\n### cyclegan at {args.image_size} px, {args.steps} steps, 1 and {args.devices} "
        f"devices ({args.device})\n",
        "| devices | global batch | images/s (all devices) | device-seconds | efficiency |",
        "|---:|---:|---:|---:|---:|",
    ]
    results = {}
    for devices in (1, args.devices):
        with tempfile.TemporaryDirectory() as folder:
            results[devices] = _run(devices, args, Path(folder))
    one = results[1]["images_per_s"]
    for devices, r in results.items():
        efficiency = r["images_per_s"] / (devices * one)
        lines.append(
            f"| {devices} | {r['global_batch']} | {r['images_per_s']:.1f} | "
            f"{r['device_seconds']:.1f} | {efficiency:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    with args.out.open("a") as sink:
        sink.write(text)
    print(text)


if __name__ == "__main__":
    main()
