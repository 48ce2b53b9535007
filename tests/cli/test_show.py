"""``medganbench show RUN_DIR``: a compact summary of a finished, unfinished or diverged run."""

from __future__ import annotations

import json
from pathlib import Path

from medganbench.core.history import HistoryRecord
from medganbench.run.history import HISTORY_NAME, write_history
from tests.cli_runner import cli_in_process

SPEC = {
    "run_id": "0123456789abcdef",
    "model": "pix2pix",
    "dataset": "phantom-brain",
    "budget": {"steps": 200, "kimg": None, "seconds": None},
    "seed": 0,
    "select": "best:psnr",
    "eval_every": 50,
}


def _run_dir(tmp_path: Path, records: list[HistoryRecord], result: dict | None = None) -> Path:
    run_dir = tmp_path / SPEC["run_id"]
    run_dir.mkdir()
    (run_dir / "spec.json").write_text(json.dumps(SPEC))
    write_history(run_dir / HISTORY_NAME, records)
    if result is not None:
        (run_dir / "result.json").write_text(json.dumps(result))
    return run_dir


def _val(step: int, value: float) -> HistoryRecord:
    return HistoryRecord(step, step / 1000, step / 10, "val", "a2b", "psnr", value)


def _loss(step: int, value: float) -> HistoryRecord:
    return HistoryRecord(step, step / 1000, step / 10, "loss", "", "g_adv", value)


def test_show_names_the_protocol_the_last_values_and_each_metrics_best_step(
    tmp_path: Path,
) -> None:
    records = [_loss(50, 2.0), _val(50, 20.0), _loss(100, 1.5), _val(100, 24.5), _val(200, 23.0)]
    result = {"ledger": {"steps": 200}, "protocol": "best:psnr@val", "selected_step": 100}
    run_dir = _run_dir(tmp_path, records, result)
    shown = cli_in_process("show", str(run_dir), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "pix2pix on phantom-brain, budget steps=200" in lines[0]
    assert "select best:psnr, validated every 50 steps" in lines[0]
    assert "finished, 200 steps; scored step 100 (protocol best:psnr@val)" in lines[1]
    assert "losses at step 100: g_adv 1.5" in shown.stdout
    assert "validation a2b psnr at step 200: 23 (best 24.5 at step 100)" in shown.stdout


def test_show_names_the_step_where_a_run_diverged(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_loss(10, 1.0), _loss(13, float("nan"))])
    shown = cli_in_process("show", str(run_dir), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "diverged at step 13 (loss 'g_adv' became nan)" in shown.stdout


def test_show_of_a_folder_that_is_not_a_run_is_one_usage_error(tmp_path: Path) -> None:
    shown = cli_in_process("show", str(tmp_path), cwd=tmp_path)
    assert shown.returncode == 2
    assert "is not a run folder" in shown.stderr and "Traceback" not in shown.stderr


def test_show_names_the_generator_a_finished_run_left(tmp_path: Path) -> None:
    from medganbench.core.manager import build_registries, make_plugin_manager
    from tests.trained.builders import write_folder

    run_dir = _run_dir(tmp_path, [_loss(1, 1.0)], {"ledger": {"steps": 1}})
    registries = build_registries(make_plugin_manager(autoload=False))
    config = write_folder(run_dir, registries, "dcgan", {"ngf": 8, "ndf": 8})
    shown = cli_in_process("show", str(run_dir), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"generator: step 0 (final), {len(config.tensors)} tensors" in shown.stdout
    assert config.weights_sha256[:12] in shown.stdout
