"""The device column names what changes a run's arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from medganbench.leaderboard.devices import short_device
from medganbench.run import device as device_module
from medganbench.run.device import cpu_model_name, device_name


@pytest.fixture
def cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "cpuinfo"
    monkeypatch.setattr(device_module, "CPUINFO", path)
    cpu_model_name.cache_clear()
    yield path
    cpu_model_name.cache_clear()


def test_a_cpu_is_named_by_model_kernel_isa_threads_and_torch(cpuinfo: Path) -> None:
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n")
    name = device_name(torch.device("cpu"))
    isa = torch.backends.cpu.get_cpu_capability()
    assert name == (
        f"cpu; AMD EPYC 7B13 64-Core Processor; {isa}; {torch.get_num_threads()} threads; "
        f"torch {torch.__version__}"
    )
    assert short_device(name) == f"AMD EPYC 7B13 64-Core {isa} ×{torch.get_num_threads()}"


def test_without_cpuinfo_the_platform_names_the_cpu(cpuinfo: Path) -> None:
    assert not cpuinfo.exists()
    assert cpu_model_name()  # platform.processor() or the architecture, never empty


def test_names_recorded_before_the_format_are_shown_as_they_are() -> None:
    assert short_device("cpu x86_64 (2 threads)") == "cpu x86_64 (2 threads)"
    assert short_device("cuda; NVIDIA H200; sm 9.0; CUDA 13.0; driver 570.1") == "H200 sm 9.0"


@pytest.mark.parametrize(
    "text",
    [
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.86.15  Wed Jan 22 2025\n",
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build\n",
    ],
)
def test_the_nvidia_driver_version_is_read_from_the_kernel_module_line(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "version"
    path.write_text(text)
    monkeypatch.setattr(device_module, "NVIDIA_DRIVER_VERSION", path)
    assert device_module.nvidia_driver_version() == "570.86.15"
    monkeypatch.setattr(device_module, "NVIDIA_DRIVER_VERSION", tmp_path / "absent")
    assert device_module.nvidia_driver_version() is None
