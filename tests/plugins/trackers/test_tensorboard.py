"""``--tracker tensorboard``: what it writes, read back with TensorBoard's own readers."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medganbench.core.history import HistoryRecord
from medganbench.core.manager import Registries
from medganbench.core.tracker import Tracker, TrackerContext
from medganbench.errors import UsageError
from medganbench.testing.trackers import probe_grid, probe_records

# Imported here, at collection: the import (seconds) is not any one test's time.
pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import (  # noqa: E402
    event_accumulator,
    plugin_event_accumulator,
)
from tensorboard.util.tensor_util import make_ndarray  # noqa: E402

RUN_ID = "0123456789abcdef"
IDENTITY = {"run_id": RUN_ID, "model": "identity", "budget": {"steps": 8, "kimg": None}}
Points = dict[str, list[tuple[int, float]]]


def _tracker(
    registries: Registries,
    run_dir: Path,
    resumed_from_step: int | None = None,
    **args: str,
) -> Tracker:
    ctx = TrackerContext(RUN_ID, run_dir, IDENTITY, resumed_from_step)
    tracker: Tracker = registries.trackers.get("tensorboard").build(args, ctx)
    return tracker


def _events(run_dir: Path) -> Path:
    return run_dir / "trackers" / "tensorboard"


def _legacy(folder: Path) -> event_accumulator.EventAccumulator:
    """TensorBoard's classic reader, keeping every event (0: no sampling)."""
    reader = event_accumulator.EventAccumulator(
        str(folder), size_guidance={"tensors": 0, "images": 0}
    )
    reader.Reload()
    return reader


def _served(folder: Path) -> Points:
    """The scalars as ``tensorboard --logdir`` serves them (its plugin event accumulator, which
    also applies purge steps to tensor summaries, where the classic reader does not)."""
    reader = plugin_event_accumulator.EventAccumulator(str(folder), size_guidance={"tensors": 0})
    reader.Reload()
    return {
        tag: [(e.step, make_ndarray(e.tensor_proto).item()) for e in reader.Tensors(tag)]
        for tag in reader.Tags()["tensors"]
        if not tag.endswith("/text_summary")
    }


def _expected(records: tuple[HistoryRecord, ...]) -> Points:
    points: Points = {}
    for record in records:
        points.setdefault(record.series, []).append((record.step, record.value))
    return points


def _same(have: Points, want: Points) -> bool:
    """Equal tags, steps and values, bit for bit (NaN equal to NaN)."""

    def key(points: list[tuple[int, float]]) -> list[tuple[int, str]]:
        return [(step, "nan" if math.isnan(value) else value.hex()) for step, value in points]

    return {t: key(p) for t, p in have.items()} == {t: key(p) for t, p in want.items()}


def test_every_record_reads_back_with_its_exact_value_and_step(
    registries: Registries, tmp_path: Path
) -> None:
    records = probe_records(1, 8)  # two losses (a NaN among them) and a validation PSNR
    tracker = _tracker(registries, tmp_path)
    tracker.log_records(records[:7])
    tracker.log_records(records[7:])
    tracker.close()
    reader = _legacy(_events(tmp_path))
    read = {
        tag: [(e.step, make_ndarray(e.tensor_proto).item()) for e in reader.Tensors(tag)]
        for tag in ("loss/G_gan", "loss/D", "val/a2b/psnr")
    }
    assert _same(read, _expected(records))


def test_the_sample_grid_reads_back_as_the_image_logged(
    registries: Registries, tmp_path: Path
) -> None:
    tracker = _tracker(registries, tmp_path)
    tracker.log_image("val/samples", 4, probe_grid())
    tracker.close()
    (event,) = _legacy(_events(tmp_path)).Images("val/samples")
    decoded = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))
    assert event.step == 4 and np.array_equal(decoded, probe_grid())


def test_the_runs_identity_is_written_once_as_text_at_step_0(
    registries: Registries, tmp_path: Path
) -> None:
    _tracker(registries, tmp_path).close()
    _tracker(registries, tmp_path, resumed_from_step=4).close()
    (event,) = _legacy(_events(tmp_path)).Tensors("medganbench/run/text_summary")
    text = make_ndarray(event.tensor_proto).item().decode()
    assert event.step == 0 and f'"run_id": "{RUN_ID}"' in text


def test_a_resumed_run_shows_each_step_once_with_the_resumed_values(
    registries: Registries, tmp_path: Path
) -> None:
    killed = _tracker(registries, tmp_path)
    killed.log_records(probe_records(1, 6))  # logged steps 5 and 6 after its step-4 checkpoint
    killed.close()
    # The resumed run logs 5..8 again; different values here, to tell the two apart.
    resumed = [
        HistoryRecord(r.step, r.kimg, r.seconds, r.kind, r.direction, r.name, r.value + 100)
        for r in probe_records(5, 8)
    ]
    tracker = _tracker(registries, tmp_path, resumed_from_step=4)
    tracker.log_records(resumed)
    tracker.close()
    assert _same(_served(_events(tmp_path)), _expected((*probe_records(1, 4), *resumed)))


def test_a_fresh_start_in_a_used_folder_shows_only_its_own_points(
    registries: Registries, tmp_path: Path
) -> None:
    earlier = _tracker(registries, tmp_path)
    earlier.log_records(probe_records(1, 8))
    earlier.close()
    again = _tracker(registries, tmp_path)
    again.log_records(probe_records(1, 2))
    again.close()
    assert _same(_served(_events(tmp_path)), _expected(probe_records(1, 2)))


def test_logdir_gives_each_run_a_folder_of_its_own_below_it(
    registries: Registries, tmp_path: Path
) -> None:
    tracker = _tracker(registries, tmp_path / "run", logdir=str(tmp_path / "tb"))
    tracker.log_records(probe_records(1, 1))
    tracker.close()
    assert _served(tmp_path / "tb" / RUN_ID)["loss/G_gan"] == [(1, 1.0)]
    assert not _events(tmp_path / "run").exists()


def test_a_file_in_the_way_of_the_event_folder_is_a_usage_error(
    registries: Registries, tmp_path: Path
) -> None:
    (tmp_path / "trackers").write_text("not a folder\n")
    with pytest.raises(UsageError, match="TensorBoard cannot write its events: .* is a file"):
        _tracker(registries, tmp_path)


@pytest.mark.slow
def test_a_run_with_tracker_tensorboard_writes_its_history_values_to_the_event_files(
    tmp_path: Path,
) -> None:
    """The issue's check end to end: ``medganbench run ... --tracker tensorboard`` (the command
    line, in this process), then TensorBoard's server reader against the run's history.arrow."""
    from medganbench.run.history import HISTORY_NAME, read_history
    from tests.cli_runner import cli_in_process

    done = cli_in_process(
        "run",
        "--model",
        "pix2pix",
        "--model-arg",
        "ngf=8",
        "--model-arg",
        "ndf=8",
        "--dataset-arg",
        "train_subjects=3",
        "--dataset-arg",
        "val_subjects=2",
        "--dataset-arg",
        "test_subjects=2",
        "--image-size",
        "32",
        "--budget",
        "steps=4",
        "--metrics",
        "psnr,mae",
        "--eval-every",
        "2",
        "--log-every",
        "1",
        "--tracker",
        "tensorboard",
        "--no-progress",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.name != "leaderboards"]
    history = read_history(run_dir / HISTORY_NAME)
    assert {r.kind for r in history} == {"loss", "val"}
    reader = plugin_event_accumulator.EventAccumulator(
        str(_events(run_dir)), size_guidance={"tensors": 0}
    )
    reader.Reload()
    want = _expected(tuple(history))
    have = {
        tag: [(e.step, make_ndarray(e.tensor_proto).item()) for e in reader.Tensors(tag)]
        for tag in want
    }
    assert _same(have, want)
    assert "val/samples" in reader.Tags()["tensors"]  # the validation sample grid too
