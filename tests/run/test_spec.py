"""Run identity: the same spec gives the same id; anything that can move a number changes it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from medganbench.errors import UsageError
from medganbench.run import device as device_module
from medganbench.run.budget import Budget
from medganbench.run.device import effective_precision
from medganbench.run.spec import RunSpec, resolve_run


def _id(registries, **changes) -> str:
    spec = dataclasses.replace(RunSpec(model="identity", budget=Budget(steps=5)), **changes)
    return resolve_run(spec, registries).run_id


def test_same_spec_same_id(registries) -> None:
    assert _id(registries) == _id(registries)


def test_id_is_16_hex_digits(registries) -> None:
    run_id = _id(registries)
    assert len(run_id) == 16 and int(run_id, 16) >= 0


def test_explicit_default_argument_gives_the_same_id(registries) -> None:
    assert _id(registries, model_args={"batch_size": "8"}) == _id(registries)


@pytest.mark.parametrize(
    "changes",
    [
        {"seed": 1},
        {"image_size": 32},
        {"budget": Budget(steps=6)},
        {"budget": Budget(steps=5, seconds=100.0)},
        {"metrics": ("psnr",)},
        {"model_args": {"batch_size": "4"}},
        {"dataset_args": {"seed": "3"}},
        {"model": "intensity-lookup"},
        {"precision": "fp32"},
        {"precision": "bf16"},
    ],
)
def test_any_change_changes_the_id(registries, changes) -> None:
    assert _id(registries, **changes) != _id(registries)


def test_model_version_is_part_of_identity(registries) -> None:
    run = resolve_run(RunSpec(model="identity", budget=Budget(steps=5)), registries)
    bumped = dataclasses.replace(run, model_version=run.model_version + ".1")
    assert bumped.run_id != run.run_id


def test_unknown_precision_is_refused(registries) -> None:
    with pytest.raises(UsageError, match="--precision 'fp16' is not one of auto, bf16, fp32"):
        _id(registries, precision="fp16")


@pytest.mark.parametrize("native", [True, False])
def test_precision_auto_on_cpu_is_bf16_where_the_cpu_has_it(
    monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    assert effective_precision("auto", cpu) is native  # emulated bf16 is slower: fp32 there
    assert effective_precision("bf16", cpu) is True  # asked for: emulated where not native
    assert effective_precision("fp32", cpu) is False
    monkeypatch.setattr(device_module, "AUTO_BF16_ON_CPU", False)
    assert effective_precision("auto", cpu) is False


def test_cpu_bf16_is_read_from_the_cpu_flags(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(device_module, "CPUINFO", cpuinfo)
    try:
        for flags, want in [("fpu sse avx512f", False), ("fpu avx512f avx512_bf16", True),
                            ("fpu amx_tile amx_bf16", True)]:  # fmt: skip
            cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
            device_module.cpu_has_native_bf16.cache_clear()
            assert device_module.cpu_has_native_bf16() is want, flags
    finally:
        device_module.cpu_has_native_bf16.cache_clear()
