"""A model argument that asks for more memory than exists is one message, and leaves no run
folder behind.

Before: ``bins=99999999999999999999`` was a TypeError traceback from torch; ``bins=10**12`` and
``dcgan ngf=10000000`` were allocator tracebacks, each leaving ``runs/<id>/spec.json`` behind.
Now the built-in models declare maxima for their sizes, every integer argument must fit int64,
and whatever still does not fit (a plugin's model without a maximum) is one out-of-memory
message suggesting smaller arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench.errors import UsageError
from medganbench.run.budget import Budget
from medganbench.run.memory import OutOfMemory
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec, resolve_run
from medganbench.testing.report import ContractViolation, Probe
from medganbench.testing.support import check_declaration
from tests.cli_runner import cli_in_process
from tests.hostile.conftest import TINY_RUN, assert_one_message

TINY_ARGS = {"train_subjects": 2, "val_subjects": 2, "test_subjects": 2, "slices_per_subject": 2}


@pytest.mark.parametrize(
    ("model", "arg", "said"),
    [
        ("intensity-lookup", "bins=99999999999999999999", "does not fit a 64-bit integer"),
        ("intensity-lookup", "bins=1000000000000", "above its maximum 65536"),
        ("dcgan", "ngf=10000000", "above its maximum 4096"),
    ],
    ids=["beyond-int64", "bins-1e12", "dcgan-ngf-1e7"],
)
def test_a_size_beyond_reason_is_one_message_and_no_run_folder(
    work: Path, model: str, arg: str, said: str
) -> None:
    # Refused before anything is built: in this process (tests/cli_runner.py).
    proc = cli_in_process(
        "run", "--model", model, "--model-arg", arg, *TINY_RUN, "--no-progress", cwd=work
    )
    assert_one_message(proc, code=2)
    assert said in proc.stderr and arg.split("=")[0] in proc.stderr, proc.stderr
    assert "Allowed:" in proc.stderr, proc.stderr  # the hint gives the range
    assert not (work / "runs").exists() or not list((work / "runs").iterdir())


def test_an_integer_beyond_int64_is_refused_for_any_component() -> None:
    param = Param("n", 1, "a count")  # no declared range at all
    with pytest.raises(UsageError, match="does not fit a 64-bit integer"):
        param.parse(str(2**63), "model 'x'")
    assert param.parse(str(2**63 - 1), "model 'x'") == 2**63 - 1


def test_a_maximum_refuses_only_above_it() -> None:
    param = Param("ngf", 64, "filters", minimum=1, maximum=4096)
    assert param.parse("4096", "model 'x'") == 4096
    with pytest.raises(UsageError, match=r"above its maximum 4096") as info:
        param.parse("4097", "model 'x'")
    assert info.value.hint == "Allowed: ngf = 1 to 4096 (default 64)."


class Hungry(Model):
    """Runs out of memory while built or at its first step, as its argument says."""

    task = Task.TRANSLATE

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        if args["when"] == "build":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 512.00 GiB")

    def train_step(self, batch: TrainBatch) -> Mapping[str, float]:
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 8000000000000 bytes. Error code 12"
        )

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        return source

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        return None


def _hungry_run(tmp_path: Path, when: str) -> tuple[RunSpec, Any, RunOptions]:
    registries = build_registries(make_plugin_manager())
    registries.models.add(
        ModelSpec(
            "hungry", "runs out of memory", "1", "tests.hostile.test_model_sizes:Hungry",
            (Param("when", "build", "when it runs out", choices=("build", "step")),),
        ),
        "tests",
    )  # fmt: skip
    spec = RunSpec(
        model="hungry", dataset="phantom-brain", model_args={"when": when},
        dataset_args=TINY_ARGS, image_size=32, metrics=("psnr",), budget=Budget(steps=2),
    )  # fmt: skip
    options = RunOptions(
        leaderboard_dir=tmp_path / "lb", runs_dir=tmp_path / "runs", progress=False,
        device="cpu", cache_dir=tmp_path / "cache",
    )  # fmt: skip
    return spec, registries, options


@pytest.mark.parametrize("when", ["build", "step"])
def test_out_of_memory_is_one_message_suggesting_smaller_arguments(
    tmp_path: Path, when: str
) -> None:
    spec, registries, options = _hungry_run(tmp_path, when)
    with pytest.raises(OutOfMemory) as info:
        execute_run(spec, registries, options)
    asked = "512.00 GiB" if when == "build" else "8000000000000 bytes"
    assert f"ran out of memory while it {'was built' if when == 'build' else 'trained'}" in str(
        info.value.message
    )
    assert asked in info.value.message and "smaller arguments" in (info.value.hint or "")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
    assert not (tmp_path / "lb").exists()


def test_a_run_folder_that_was_there_before_is_kept(tmp_path: Path) -> None:
    spec, registries, options = _hungry_run(tmp_path, "step")
    run_dir = options.runs_dir / resolve_run(spec, registries).run_id
    run_dir.mkdir(parents=True)
    (run_dir / "notes.txt").write_text("an earlier attempt's")
    with pytest.raises(OutOfMemory):
        execute_run(spec, registries, options)
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt", "spec.json"]


@pytest.mark.parametrize(
    ("param", "said"),
    [
        (Param("ngf", 8192, "filters", minimum=1, maximum=4096), "its default fails"),
        (Param("ngf", 64, "filters", minimum=128, maximum=16), "minimum 128 is above maximum 16"),
    ],
    ids=["default-above-maximum", "empty-range"],
)
def test_the_kit_refuses_a_declaration_whose_range_is_wrong(param: Param, said: str) -> None:
    spec = ModelSpec("broken", "a model", "1", "tests.hostile.test_model_sizes:Hungry", (param,))
    with pytest.raises(ContractViolation, match=said):
        check_declaration(Probe("model", "broken", spec))
