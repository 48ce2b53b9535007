"""A run's history as the site reads it (medganbench.site.history): divergence, non-finite
validation values, bounded curves, and hostile or missing files that never stop a publish."""

from __future__ import annotations

from pathlib import Path

from medganbench.run.history import HISTORY_NAME, write_history
from medganbench.site.curves import MAX_POINTS
from medganbench.site.history import MAX_CURVES, UNREADABLE, load_history, summarise
from tests.site.histories import loss, training_records, val

NAN = float("nan")


def test_a_diverged_loss_ends_at_its_last_finite_value() -> None:
    records = [loss(10, "G", 1.0), loss(20, "G", 2.0), loss(30, "G", NAN), loss(40, "G", 3.0)]
    (curve,) = summarise(records).losses
    assert curve.points == ((10, 1.0), (20, 2.0))


def test_the_step_where_a_loss_first_became_non_finite_is_the_divergence() -> None:
    records = [loss(10, "D", 0.5), loss(20, "G", float("inf")), loss(30, "D", NAN)]
    history = summarise(records)
    assert history.diverged_at == 20
    assert [c.points for c in history.losses] == [((10, 0.5),), ()]


def test_a_history_without_a_non_finite_loss_did_not_diverge() -> None:
    assert summarise(training_records()).diverged_at is None


def test_a_non_finite_validation_value_is_skipped_not_an_end() -> None:
    records = [val(50, "psnr", 20.0), val(100, "psnr", float("inf")), val(150, "psnr", 22.0)]
    assert summarise(records).val_curve("a2b", "psnr").points == ((50, 20.0), (150, 22.0))


def test_validation_curves_are_kept_per_direction_and_metric() -> None:
    records = [val(50, "psnr", 20.0), val(50, "psnr", 18.0, "b2a"), val(50, "mae", 9.0)]
    history = summarise(records)
    assert [(v.direction, v.metric) for v in history.val] == [
        ("a2b", "psnr"),
        ("b2a", "psnr"),
        ("a2b", "mae"),
    ]
    assert history.val_curve("b2a", "psnr").points == ((50, 18.0),)
    assert history.val_curve("b2a", "mae") is None


def test_a_long_history_is_cut_to_the_point_limit_per_curve() -> None:
    history = summarise(training_records(steps=20_000, every=2, val_every=10))
    curves = [*history.losses, *(v.curve for v in history.val)]
    assert all(len(c.points) <= MAX_POINTS for c in curves)
    # ... and each still spans the whole run.
    assert {(c.points[0][0], c.points[-1][0]) for c in curves} == {(2, 20_000), (10, 20_000)}


def test_a_file_naming_thousands_of_series_draws_a_bounded_number() -> None:
    records = [loss(1, f"loss{i}", 1.0) for i in range(1000)]
    history = summarise(records)
    assert len(history.losses) == MAX_CURVES and history.left_out == 1000 - MAX_CURVES


def test_a_run_recorded_before_histories_has_none(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    assert load_history(tmp_path, tmp_path / "run") is None


def test_a_history_file_is_read_and_summarised(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    write_history(tmp_path / "run" / HISTORY_NAME, training_records())
    history = load_history(tmp_path, tmp_path / "run")
    assert history is not None and not history.unreadable
    assert [c.label for c in history.losses] == ["G_gan", "D"]


def test_a_corrupt_history_file_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / HISTORY_NAME).write_bytes(b"ARROW1 but not really")
    assert load_history(tmp_path, tmp_path / "run") is UNREADABLE


def test_a_folder_named_like_the_history_file_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "run" / HISTORY_NAME).mkdir(parents=True)
    assert load_history(tmp_path, tmp_path / "run") is UNREADABLE


def test_a_history_linked_from_outside_the_runs_folder_is_not_read(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.arrow"
    write_history(elsewhere, training_records())
    runs = tmp_path / "runs"
    (runs / "run").mkdir(parents=True)
    (runs / "run" / HISTORY_NAME).symlink_to(elsewhere)
    assert load_history(runs, runs / "run") is UNREADABLE
