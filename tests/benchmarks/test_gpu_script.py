"""``benchmarks/gpu.sh`` (throughput, peak memory and MFU per model), checked on the CPU at a tiny size.

The GPU figures themselves need a GPU; this only proves that the script runs end to end and
writes its table, so the next session with a GPU can run it as is.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (a script, not a package module)


def test_gpu_script_writes_a_table_on_cpu_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    # gpu.sh is `throughput.py --device cuda --image-size 256 ... "$@"`: later options win.
    assert '--out benchmarks/gpu-results.md "$@"' in (ROOT / "benchmarks" / "gpu.sh").read_text()
    args = ["--device", "cpu", "--image-size", "32", "--tiny", "--steps", "1", "--warmup", "0"]
    assert throughput.main([*args, "--models", "pix2pix", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("Device: cpu") and "32 px, bf16, channels-last" in lines[0]
    assert lines[2].startswith("| model | batch | step | images/s | peak memory | GFLOPs/step")
    (row,) = [line for line in lines if line.startswith("| `pix2pix`")]
    assert row.endswith("| n/a |")  # no peak is known for a CPU, so no MFU


def test_the_throughput_of_a_3d_model_is_measured_on_volumes(tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    assert (
        "--models dcgan3d,wgan-gp3d,pix2pix3d,hagan3d"
        in (ROOT / "benchmarks" / "gpu.sh").read_text()
    )
    args = ["--device", "cpu", "--image-size", "16", "--tiny", "--steps", "1", "--warmup", "0"]
    assert (
        throughput.main([*args, "--precision", "fp32", "--models", "dcgan3d", "--out", str(out)])
        == 0
    )
    (row,) = [line for line in out.read_text().splitlines() if line.startswith("| `dcgan3d`")]
    assert "| 2 |" in row  # the tiny batch of two 16³ volumes


def test_peak_table_covers_the_gpus_named_in_the_issue() -> None:
    assert throughput.peak_tflops("NVIDIA H200", "bf16") == 989.0
    assert throughput.peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == 989.4
    assert throughput.peak_tflops("NVIDIA H100 PCIe", "fp32") == 51.2
    assert throughput.peak_tflops("NVIDIA A100-SXM4-80GB", "bf16") == 312.0
    assert throughput.peak_tflops("cpu x86_64 (2 threads)", "bf16") is None
