"""The pieces of a multi-device run that need no second process: shares of a batch, batch
plans, the process's world, run ids, checkpoints with per-device states, the launcher's one
message, and rows of schema v6. (Two real processes: tests/run/test_distributed.py.)"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pyarrow as pa
import pytest
import torch
from torch import nn

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.model import Model, Task, TrainBatch
from medganbench.errors import DataError, PluginError, RunError, UsageError
from medganbench.leaderboard.versions import to_current_schema
from medganbench.run.batch_plan import BatchPlan, plan_batches
from medganbench.run.batches import ShuffledBatches, TrainBatches
from medganbench.run.budget import Budget, Ledger
from medganbench.run.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from medganbench.run.distributed import (
    PEER_LOST_EXIT,
    SINGLE,
    World,
    check_world,
    launched_world,
    rank_seed,
)
from medganbench.run.launch import ERROR_DIR_VARIABLE, first_cause, report_error
from medganbench.run.resume import restore, spec_from_identity
from medganbench.run.spec import RunSpec, resolve_run
from tests.leaderboard.rows import make_row, v5_table

DATA = [{"a": torch.full((1, 2, 2), float(i)), "mask_a": torch.ones(1, 2, 2)} for i in range(10)]


def _indices(batch: dict[str, torch.Tensor]) -> list[int]:
    return [int(x) for x in batch["a"][:, 0, 0, 0]]


@pytest.mark.parametrize("size", [2, 4])
def test_the_shares_of_every_step_are_the_single_device_batch(size: int) -> None:
    one = ShuffledBatches(DATA, 4, seed=3)
    shares = [ShuffledBatches(DATA, 4, seed=3, world=World(r, size)) for r in range(size)]
    for _ in range(7):  # past two epochs
        expected = _indices(next(one))
        assert [i for s in shares for i in _indices(next(s))] == expected


def test_a_share_resumes_where_it_stood() -> None:
    share = ShuffledBatches(DATA, 4, seed=5, world=World(1, 2))
    for _ in range(3):
        next(share)
    state = share.state_dict()
    expected = [_indices(next(share)) for _ in range(4)]
    again = ShuffledBatches(DATA, 4, seed=5, world=World(1, 2))
    again.load_state_dict(state)
    assert [_indices(next(again)) for _ in range(4)] == expected


def test_a_split_smaller_than_the_global_batch_cannot_be_shared() -> None:
    with pytest.raises(DataError, match="fewer than one global batch of 16"):
        ShuffledBatches(DATA, 16, seed=0, world=World(0, 2))


class _Model(Model):
    task = Task.TRANSLATE
    batch_scaling: ClassVar[str] = "global"

    def __init__(self, batch: int, modules: bool = True) -> None:
        super().__init__({"batch_size": batch}, None)  # type: ignore[arg-type]
        self.net = nn.Conv2d(1, 1, 1)
        self._modules = modules

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        return {}

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        return source

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: Any) -> None:
        self.net.load_state_dict(state["net"])

    def trained_modules(self) -> dict[str, nn.Module]:
        if not self._modules:
            return Model.trained_modules(self)  # type: ignore[return-value]
        return {"net": self.net}


class _PerDevice(_Model):
    batch_scaling = "per-device"


class _Unknown(_Model):
    batch_scaling = "per-node"


class _Baseline(_Model):
    learned = False


def test_a_global_batch_is_shared_and_a_per_device_batch_multiplied() -> None:
    assert plan_batches(_Model(8), 4) == BatchPlan(4, 2)
    assert plan_batches(_Model(8), 4).total == 8
    assert plan_batches(_PerDevice(1), 4) == BatchPlan(4, 1)
    assert plan_batches(_PerDevice(1), 4).total == 4
    assert plan_batches(_Model(3), 1) == BatchPlan(1, 3)


def test_a_batch_that_devices_cannot_share_equally_is_refused_naming_the_fix() -> None:
    with pytest.raises(UsageError, match="batch of 6 images per step cannot be shared") as info:
        plan_batches(_Model(6), 4)
    assert "batch_size=<a multiple of 4>" in str(info.value.hint)


@pytest.mark.parametrize(
    ("model", "error", "says"),
    [
        (_Baseline(8), UsageError, "learns nothing by gradient steps"),
        (_Model(8, modules=False), UsageError, "does not declare trained_modules()"),
        (_Unknown(8), PluginError, "'per-node', not one of global, per-device"),
    ],
)
def test_a_model_that_cannot_train_on_several_devices_is_refused(
    model: Model, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says.replace("(", r"\(").replace(")", r"\)")):
        plan_batches(model, 2)


def test_the_world_comes_from_torchruns_variables() -> None:
    assert launched_world({}) == SINGLE
    env = {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    assert launched_world(env) == World(1, 4, 1)
    with pytest.raises(UsageError, match="whole numbers"):
        launched_world({"WORLD_SIZE": "two"})
    with pytest.raises(UsageError, match="0 <= RANK < WORLD_SIZE"):
        launched_world({"RANK": "4", "WORLD_SIZE": "4"})


def test_a_run_on_other_devices_than_processes_is_refused() -> None:
    check_world(2, World(0, 2))
    with pytest.raises(UsageError, match="on 2 device\\(s\\), but one process started it"):
        check_world(2, SINGLE)


def test_process_zero_keeps_the_seed_and_the_others_draw_their_own() -> None:
    assert rank_seed(7, 0) == 7
    seeds = {rank_seed(7, r) for r in range(1, 5)}
    assert len(seeds) == 4 and 7 not in seeds
    assert rank_seed(7, 1) == rank_seed(7, 1)


def test_devices_enter_the_run_id_only_above_one() -> None:
    registries = build_registries(make_plugin_manager())
    base = RunSpec(model="identity", budget=Budget(steps=1))
    one = resolve_run(base, registries)
    two = resolve_run(RunSpec(model="identity", budget=Budget(steps=1), devices=2), registries)
    assert "devices" not in one.identity()
    assert two.identity()["devices"] == 2 and two.run_id != one.run_id
    assert spec_from_identity(two.identity()).devices == 2
    with pytest.raises(UsageError, match="--devices 0 is out of range"):
        resolve_run(RunSpec(model="identity", budget=Budget(steps=1), devices=0), registries)


def _checkpoint(world_size: int, ranks: tuple[dict[str, Any], ...]) -> Checkpoint:
    return Checkpoint(
        "0123456789abcdef",
        {"w": torch.zeros(2)},
        {"a": None, "b": None},
        {"torch": torch.get_rng_state()},
        Ledger(steps=3, images=6),
        0,
        0.0,
        {},
        world_size,
        ranks,
    )


def test_a_checkpoint_keeps_every_process_state(tmp_path: Path) -> None:
    other = {"model": {"w": torch.ones(2)}, "data_order": {"a": None}, "rng": {"x": 1}}
    save_checkpoint(tmp_path / "c.pt", _checkpoint(2, (other,)))
    back = load_checkpoint(tmp_path / "c.pt", "0123456789abcdef")
    assert back.world_size == 2
    assert torch.equal(back.for_rank(1)["model"]["w"], torch.ones(2))
    assert torch.equal(back.for_rank(0)["model"]["w"], torch.zeros(2))


def test_a_checkpoint_whose_device_states_do_not_add_up_is_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.pt", _checkpoint(3, ({"model": {}},)))
    with pytest.raises(RunError, match="per-device states are malformed"):
        load_checkpoint(tmp_path / "c.pt", "0123456789abcdef")


def test_restoring_on_another_number_of_devices_is_refused() -> None:
    batches = TrainBatches(DATA, 2, 0, unpaired=False, paired_data=True)
    with pytest.raises(RunError, match="written by 2 device\\(s\\); this run has 1") as info:
        restore(_checkpoint(2, ({},)), _Model(2), batches, SINGLE)
    assert info.value.hint == "Resume it with --devices 2."


def _failure(code: int) -> SimpleNamespace:
    return SimpleNamespace(exitcode=code)


def test_the_launcher_reports_the_killed_process_not_the_ones_it_stopped(tmp_path: Path) -> None:
    failures = {0: _failure(-signal.SIGTERM), 1: _failure(-signal.SIGKILL), 2: _failure(3)}
    failure = first_cause(failures, tmp_path, 3, Path("runs/x"))
    assert failure.message.startswith("Process 1 of this 3-device run was killed by SIGKILL")
    assert failure.hint == "Continue it with: medganbench run --resume runs/x --devices 3"


def test_the_launcher_reports_an_error_a_process_raised_before_a_lost_peer(
    tmp_path: Path,
) -> None:
    (tmp_path / "rank-0.json").write_text(
        json.dumps({"message": "lost", "hint": None, "exit_code": PEER_LOST_EXIT})
    )
    (tmp_path / "rank-1.json").write_text(
        json.dumps({"message": "Loss 'g' became nan", "hint": "Lower lr", "exit_code": 1})
    )
    failures = {0: _failure(PEER_LOST_EXIT), 1: _failure(1)}
    failure = first_cause(failures, tmp_path, 2, Path("runs/x"))
    assert (failure.message, failure.hint, failure.exit_code) == (
        "Loss 'g' became nan",
        "Lower lr",
        1,
    )


def test_a_worker_hands_its_error_to_the_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not report_error("m", None, 1)
    monkeypatch.setenv(ERROR_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert report_error("m", "h", 2)
    assert json.loads((tmp_path / "rank-1.json").read_text()) == {
        "message": "m",
        "hint": "h",
        "exit_code": 2,
    }


def test_rows_of_schema_v5_were_trained_on_one_device() -> None:
    budgeted = make_row(run_id="a", model_args='{"batch_size":4,"direction":"a2b"}')
    external = make_row(run_id="b", track="external", model_args='{"batch_size":4}')
    no_batch = make_row(run_id="c")
    table = to_current_schema(v5_table(budgeted, external, no_batch), Path("old.arrow"))
    rows = table.to_pylist()
    assert [r["world_size"] for r in rows] == [1, 1, 1]
    assert [r["device_seconds"] for r in rows] == [r["train_seconds"] for r in rows]
    assert [(r["per_device_batch"], r["global_batch"]) for r in rows] == [
        (4, 4),
        (None, None),
        (None, None),
    ]
    assert table.schema.field("world_size").type == pa.int64()
