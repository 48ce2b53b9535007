"""``--tracker mlflow``: what it writes, read back with MLflow's own client."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medganbench.core.history import HistoryRecord
from medganbench.core.manager import Registries
from medganbench.core.tracker import Tracker, TrackerContext
from medganbench.errors import UsageError
from medganbench.testing.trackers import probe_grid, probe_records
from medganbench_plugins.trackers.mlflow_names import flat_params, safe_key
from medganbench_plugins.trackers.mlflow_tracker import FILE_STORE_ENV, RUN_ID_TAG

# Imported here, at collection: the import (over a second) is not any one test's time.
pytest.importorskip("mlflow")
from mlflow.entities import Run  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

RUN_ID = "0123456789abcdef"
IDENTITY = {
    "run_id": RUN_ID,
    "model": "identity",
    "model_args": {"direction": "a2b"},
    "budget": {"steps": 8, "kimg": None},
    "seed": 0,
}


@pytest.fixture(autouse=True)
def _no_file_store_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tracker must open its file store without the user's opt-in.
    monkeypatch.delenv(FILE_STORE_ENV, raising=False)


def _tracker(
    registries: Registries, run_dir: Path, resumed_from_step: int | None = None
) -> Tracker:
    ctx = TrackerContext(RUN_ID, run_dir, IDENTITY, resumed_from_step)
    tracker: Tracker = registries.trackers.get("mlflow").build({}, ctx)
    return tracker


def _runs(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[MlflowClient, list[Run]]:
    """The client of the run folder's store (opted in for reading) and its runs, newest first."""
    monkeypatch.setenv(FILE_STORE_ENV, "true")
    client = MlflowClient((run_dir / "trackers" / "mlflow").resolve().as_uri())
    experiment = client.get_experiment_by_name("medganbench")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    return client, list(runs)


def _history(client: MlflowClient, run: Run, key: str) -> list[tuple[int, str]]:
    """A metric's (step, value) points, values as hex (bit for bit; NaN as "nan")."""
    points = client.get_metric_history(run.info.run_id, key)
    return [(m.step, "nan" if math.isnan(m.value) else float(m.value).hex()) for m in points]


def _expected(records: tuple[HistoryRecord, ...], series: str) -> list[tuple[int, str]]:
    return [
        (r.step, "nan" if math.isnan(r.value) else r.value.hex())
        for r in records
        if r.series == series
    ]


def test_every_record_reads_back_with_its_exact_value_and_step(
    registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = probe_records(1, 8)  # two losses (a NaN among them) and a validation PSNR
    tracker = _tracker(registries, tmp_path)
    tracker.log_records(records[:7])
    tracker.log_records(records[7:])
    tracker.close()
    client, (run,) = _runs(tmp_path, monkeypatch)
    for series in ("loss/G_gan", "loss/D", "val/a2b/psnr"):
        assert _history(client, run, series) == _expected(records, series), series


def test_the_run_is_named_tagged_and_finished_with_the_identity_as_parameters(
    registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tracker(registries, tmp_path).close()
    _, (run,) = _runs(tmp_path, monkeypatch)
    assert run.info.run_name == RUN_ID and run.data.tags[RUN_ID_TAG] == RUN_ID
    assert run.info.status == "FINISHED"
    assert run.data.params == {
        "run_id": RUN_ID,
        "model": "identity",
        "model_args.direction": "a2b",
        "budget.steps": "8",
        "budget.kimg": "null",
        "seed": "0",
    }


def test_the_sample_grid_is_an_image_of_its_tag_and_step(
    registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = _tracker(registries, tmp_path)
    tracker.log_image("val/samples", 4, probe_grid())
    tracker.close()
    client, (run,) = _runs(tmp_path, monkeypatch)
    # MLflow names the file by key ('/' as '~') and step; a .png beside its compressed copy.
    (png,) = [
        f.path for f in client.list_artifacts(run.info.run_id, "images") if f.path.endswith(".png")
    ]
    assert Path(png).name.startswith("val~samples+step+4+")
    local = client.download_artifacts(run.info.run_id, png, str(tmp_path))
    decoded = np.asarray(Image.open(io.BytesIO(Path(local).read_bytes())).convert("RGB"))
    assert np.array_equal(decoded, probe_grid())


def test_a_resumed_run_continues_its_mlflow_run_without_repeating_points(
    registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed = _tracker(registries, tmp_path)
    killed.log_records(probe_records(1, 6))  # logged steps 5 and 6 after its step-4 checkpoint
    tracker = _tracker(registries, tmp_path, resumed_from_step=4)
    tracker.log_records(probe_records(5, 8))
    tracker.close()
    client, (run,) = _runs(tmp_path, monkeypatch)
    assert run.info.status == "FINISHED"
    for series in ("loss/G_gan", "loss/D", "val/a2b/psnr"):
        assert _history(client, run, series) == _expected(probe_records(1, 8), series), series


def test_a_fresh_start_gets_an_mlflow_run_of_its_own(
    registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = _tracker(registries, tmp_path)
    earlier.log_records(probe_records(1, 8))
    earlier.close()
    again = _tracker(registries, tmp_path)
    again.log_records(probe_records(1, 2))
    again.close()
    client, (newest, oldest) = _runs(tmp_path, monkeypatch)
    assert _history(client, newest, "loss/G_gan") == _expected(probe_records(1, 2), "loss/G_gan")
    assert len(_history(client, oldest, "loss/G_gan")) == 8


def test_the_file_store_opt_in_is_gone_after_each_call(
    registries: Registries, tmp_path: Path
) -> None:
    tracker = _tracker(registries, tmp_path)
    tracker.log_records(probe_records(1, 1))
    tracker.close()
    assert FILE_STORE_ENV not in os.environ


def test_a_user_refusing_the_file_store_is_told_before_training(
    registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FILE_STORE_ENV, "false")
    with pytest.raises(UsageError, match=f"{FILE_STORE_ENV} is set to 'false'"):
        _tracker(registries, tmp_path)


def test_a_file_in_the_way_of_the_store_is_a_usage_error(
    registries: Registries, tmp_path: Path
) -> None:
    (tmp_path / "trackers").write_text("not a folder\n")
    with pytest.raises(UsageError, match="MLflow cannot use the tracking store file:"):
        _tracker(registries, tmp_path)


def test_a_loss_name_mlflow_refuses_becomes_a_safe_key() -> None:
    assert safe_key("loss/D(A)") == "loss/D_A_"
    assert safe_key("loss/../G") == "loss/_/G"
    assert safe_key("loss//G/") == "loss/_/G/_"


def test_a_long_parameter_is_cut_with_an_ellipsis() -> None:
    (value,) = flat_params({"note": "x" * 600}).values()
    assert len(value) == 500 and value.endswith("…")
