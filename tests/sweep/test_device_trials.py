"""Sweep trials on two devices: the local executor and Ray start each trial's two processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from medganbench.run.options import RunOptions
from medganbench.sweep.device_trial import request_from_json, request_json
from medganbench.sweep.executor import TrialRequest
from medganbench.sweep.runner import make_executor, run_sweep
from medganbench.sweep.spec import expand_trials, parse_sweep

ON_TWO_DEVICES = {
    "name": "on-two",
    "budget": "steps=1",
    "image_size": 32,
    "metrics": ["psnr"],
    "seeds": [0],
    "devices": 2,
    "datasets": ["phantom-brain"],
    "models": [
        {
            "name": "cyclegan",
            "args": {"ngf": 8, "ndf": 8, "n_blocks": 1, "eval_both": False, "eval_cycle": False},
        }
    ],
}


def test_a_trial_request_travels_to_the_processes_as_json(tmp_path: Path) -> None:
    registries = build_registries(make_plugin_manager())
    (trial,) = expand_trials(parse_sweep(ON_TWO_DEVICES, "on-two.toml"), registries)
    request = TrialRequest(trial, RunOptions(runs_dir=tmp_path / "runs", trackers=("csv",)))
    assert request_from_json(request_json(request)) == request
    assert trial.spec.devices == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("executor", "args"),
    [("local", {}), ("ray", {"num_cpus": 2, "cpus_per_trial": 1})],
    ids=["local", "ray-placement-group"],
)
def test_a_sweep_trial_on_two_devices_lands_once_with_world_size_two(
    tmp_path: Path, executor: str, args: dict[str, object]
) -> None:
    if executor == "ray":
        pytest.importorskip("ray")
    registries = build_registries(make_plugin_manager())
    sweep = parse_sweep(ON_TWO_DEVICES, "on-two.toml")
    options = RunOptions(
        leaderboard_dir=tmp_path / "leaderboards", runs_dir=tmp_path / "runs", device="cpu"
    )
    report = run_sweep(sweep, registries, make_executor(registries, executor, args), options)
    assert report.count("ok") == 1, report
    rows = read_leaderboard(leaderboard_path(tmp_path / "leaderboards", "phantom-brain"))
    assert {r["world_size"] for r in rows.to_pylist()} == {2}
    assert {r["global_batch"] for r in rows.to_pylist()} == {2}
    assert len(rows) == len({(r["direction"], r["eval_unit"]) for r in rows.to_pylist()})
    (trial,) = expand_trials(sweep, registries)
    assert (tmp_path / "runs" / trial.run_id / "generator.safetensors").exists()
