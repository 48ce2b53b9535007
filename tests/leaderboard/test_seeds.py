"""Tests for multi-seed statistics: bootstrap interval, merging seeds, interval ranks, views."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from medganbench.leaderboard.export import SEED_TABLE_SCHEMA, seed_table
from medganbench.leaderboard.ranking import (
    COMPARABLE_KEYS,
    MetricColumn,
    interval_ranks,
)
from medganbench.leaderboard.render import markdown, render_markdown
from medganbench.leaderboard.schema import SCHEMA
from medganbench.leaderboard.seeds import (
    AggregatedGroup,
    SeedAggregate,
    aggregate_groups,
    bootstrap_ci,
    summarise,
)
from medganbench.leaderboard.store import (
    append_rows,
    leaderboard_path,
    read_leaderboard,
)
from tests.cli_runner import cli_in_process
from tests.folders import DEFAULT_BOARDS
from tests.leaderboard.rows import labels, make_row, rid, table_of

# A fixed, skewed sample: the percentile interval is asymmetric, so a wrong quantile shows.
SAMPLE = np.array([18.2, 19.0, 19.4, 20.1, 20.3, 21.7, 22.9, 25.8])


def rows_for(model: str, values: list[float], **overrides: Any) -> list[dict[str, Any]]:
    """One row per seed 0..n-1 for one model configuration.

    The run id depends on seed and model only, so calling this once per metric gives the rows
    of the same runs (as the runner writes one row per metric of a run).
    """
    return [
        make_row(run_id=f"s{seed}-{model}", model=model, seed=seed, value=value, **overrides)
        for seed, value in enumerate(values)
    ]


def board_of(tmp_path: Path, *row_lists: list[dict[str, Any]]) -> Path:
    """A real Arrow leaderboard file in ``tmp_path`` holding all the rows."""
    path = leaderboard_path(tmp_path, "phantom-brain")
    append_rows(path, [row for rows in row_lists for row in rows])
    return path


def entries_by_model(group: AggregatedGroup) -> dict[str, SeedAggregate]:
    return {entry.model: entry for entry in group.entries}


# ------------------------------------------------------------------------------ bootstrap_ci


def test_bootstrap_ci_matches_scipy_percentile_bootstrap() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    low, high = bootstrap_ci(SAMPLE)
    reference = scipy_stats.bootstrap(
        (SAMPLE,), np.mean, method="percentile", confidence_level=0.95, n_resamples=10_000,
        rng=np.random.default_rng(12345),
    ).confidence_interval  # fmt: skip
    # Both are Monte Carlo estimates from different random streams; with 10,000 resamples
    # their ends agree to well under 2% of the data range (observed: under 0.5%).
    tolerance = 0.02 * float(np.ptp(SAMPLE))
    assert low == pytest.approx(reference.low, abs=tolerance)
    assert high == pytest.approx(reference.high, abs=tolerance)
    assert low < SAMPLE.mean() < high


def test_bootstrap_ci_is_deterministic_for_a_seed() -> None:
    assert bootstrap_ci(SAMPLE) == bootstrap_ci(SAMPLE)
    assert bootstrap_ci(SAMPLE, seed=1) != bootstrap_ci(SAMPLE, seed=2)


def test_bootstrap_ci_of_one_value_raises() -> None:
    with pytest.raises(ValueError, match="at least 2 values"):
        bootstrap_ci([20.0])


def test_bootstrap_ci_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci([20.0, float("nan"), 21.0])


def test_bootstrap_ci_of_constant_sample_is_that_point() -> None:
    assert bootstrap_ci([0.1, 0.1, 0.1]) == (0.1, 0.1)


def test_narrower_confidence_gives_narrower_interval() -> None:
    low95, high95 = bootstrap_ci(SAMPLE, confidence=0.95)
    low50, high50 = bootstrap_ci(SAMPLE, confidence=0.5)
    assert low95 < low50 < high50 < high95


# -------------------------------------------------------------------------------- summaries


def test_summary_mean_and_sample_std_match_numpy() -> None:
    values = [20.0, 21.5, 23.25]
    summary = summarise([(seed, f"r{seed}", v) for seed, v in enumerate(values)])
    assert summary is not None
    assert summary.n == 3
    assert summary.mean == pytest.approx(np.mean(values))
    assert summary.std == pytest.approx(np.std(values, ddof=1))  # not ddof=0 (1.328)
    assert summary.std == pytest.approx(1.6266, abs=1e-4)  # sqrt(5.2917 / 2), by hand
    assert (summary.ci_low, summary.ci_high) == bootstrap_ci(values)
    assert summary.seeds == (0, 1, 2) and summary.run_ids == ("r0", "r1", "r2")


def test_summary_skips_missing_and_nan_values() -> None:
    summary = summarise([(0, "a", 20.0), (1, "b", None), (2, "c", float("nan")), (3, "d", 22.0)])
    assert summary is not None
    assert (summary.n, summary.mean, summary.seeds) == (2, 21.0, (0, 3))


def test_single_seed_summary_has_no_spread_and_a_point_interval() -> None:
    summary = summarise([(7, "only", 20.0)])
    assert summary is not None and summary.single_seed
    assert (summary.std, summary.ci_low, summary.ci_high) == (None, None, None)
    assert summary.interval == (20.0, 20.0)


# ---------------------------------------------------------------------------------- merging


def test_rows_differing_only_in_seed_merge_into_one_entry(tmp_path: Path) -> None:
    path = board_of(tmp_path, rows_for("cyclegan", [20.0, 21.0, 22.0]))
    (group,) = aggregate_groups(path)
    (entry,) = group.entries
    assert entry.seeds == (0, 1, 2)
    assert labels(entry.run_ids) == ["s0-cyclegan", "s1-cyclegan", "s2-cyclegan"]
    assert entry.n_seeds == 3 and not entry.single_seed
    (summary,) = entry.summaries
    assert summary is not None and summary.mean == pytest.approx(21.0)
    assert entry.rank == 1


def test_entry_carries_mean_steps_and_time_and_sorted_devices() -> None:
    table = pa.Table.from_pylist(
        [
            make_row(run_id="s0", seed=0, steps_done=300, train_seconds=3.0, device="cuda:0"),
            make_row(run_id="s1", seed=1, steps_done=290, train_seconds=5.0, device="cpu"),
            make_row(run_id="s2", seed=2, steps_done=310, train_seconds=4.0, device="cuda:0"),
        ],
        schema=SCHEMA,
    )
    (group,) = aggregate_groups(table)
    (entry,) = group.entries
    assert entry.steps_done == 300.0 and entry.train_seconds == pytest.approx(4.0)
    assert entry.devices == ("cpu", "cuda:0")


def test_different_model_args_stay_separate_entries(tmp_path: Path) -> None:
    path = board_of(
        tmp_path,
        rows_for("hlsnc", [20.0, 21.0], model_args='{"loss":"hinge"}'),
        [make_row(run_id="lsgan", model="hlsnc", model_args='{"loss":"lsgan"}', value=19.0)],
    )
    (group,) = aggregate_groups(path)
    assert sorted((e.model_args, e.n_seeds) for e in group.entries) == [
        ('{"loss":"hinge"}', 2),
        ('{"loss":"lsgan"}', 1),
    ]


def test_different_precision_stays_separate_entries() -> None:
    table = pa.Table.from_pylist(
        [make_row(run_id="fp32", seed=0), make_row(run_id="bf16", seed=1, precision="bf16")],
        schema=SCHEMA,
    )
    (group,) = aggregate_groups(table)
    assert sorted(e.precision for e in group.entries) == ["bf16", "fp32"]


def test_runs_on_one_and_on_two_devices_stay_separate_entries_labelled_by_devices() -> None:
    table = pa.Table.from_pylist(
        [
            make_row(run_id="one", seed=0, model="cyclegan"),
            make_row(run_id="two", seed=1, model="cyclegan", world_size=2, device_seconds=7.0),
        ],
        schema=SCHEMA,
    )
    (group,) = aggregate_groups(table)
    assert sorted((e.world_size, e.n_seeds) for e in group.entries) == [(1, 1), (2, 1)]
    shown = markdown(table)
    assert shown.count("[2 devices]") == 1


def test_different_budgets_never_merge(tmp_path: Path) -> None:
    path = board_of(
        tmp_path,
        rows_for("cyclegan", [20.0, 21.0], budget_steps=300),
        [make_row(run_id="long", model="cyclegan", seed=2, value=30.0, budget_steps=600)],
    )
    groups = aggregate_groups(path)
    assert [(g.key["budget_steps"], [e.n_seeds for e in g.entries]) for g in groups] == [
        (300, [2]),
        (600, [1]),
    ]


# ---------------------------------------------------------------------------------- ranking


def test_overlapping_intervals_share_a_rank(tmp_path: Path) -> None:
    path = board_of(
        tmp_path, rows_for("aaa", [20.0, 22.0, 24.0]), rows_for("bbb", [21.0, 23.0, 25.0])
    )
    (group,) = aggregate_groups(path)
    a, b = entries_by_model(group)["aaa"], entries_by_model(group)["bbb"]
    assert a.summaries[0].interval[1] > b.summaries[0].interval[0]  # they do overlap
    assert (a.rank, b.rank) == (1, 1)
    # Same rank: the better mean is listed first.
    assert [e.model for e in group.entries] == ["bbb", "aaa"]


def test_non_overlapping_intervals_get_different_ranks(tmp_path: Path) -> None:
    path = board_of(
        tmp_path, rows_for("weak", [20.0, 20.1, 20.2]), rows_for("strong", [25.0, 25.1, 25.2])
    )
    (group,) = aggregate_groups(path)
    assert [(e.model, e.rank) for e in group.entries] == [("strong", 1), ("weak", 2)]


def test_lower_is_better_metric_ranks_smaller_mean_first(tmp_path: Path) -> None:
    mae = {"metric": "mae", "higher_is_better": False}
    path = board_of(
        tmp_path,
        rows_for("big", [0.30, 0.31, 0.32], **mae),
        rows_for("small", [0.10, 0.11, 0.12], **mae),
    )
    (group,) = aggregate_groups(path)
    assert group.ranked_by == MetricColumn("mae", "1", False)
    assert [(e.model, e.rank) for e in group.entries] == [("small", 1), ("big", 2)]


def test_rank_counts_only_entirely_better_intervals() -> None:
    # c overlaps b but not a; b overlaps a and c: a=1, b=1 (nobody clear of it), c=2.
    intervals = [(10.0, 12.0), (9.0, 11.0), (7.0, 9.5)]
    assert interval_ranks(intervals, higher_is_better=True) == [1, 1, 2]
    assert interval_ranks(intervals, higher_is_better=False) == [2, 1, 1]


def test_single_seed_entry_is_flagged_and_ranked_by_its_point(tmp_path: Path) -> None:
    path = board_of(
        tmp_path,
        rows_for("many", [20.0, 22.0, 24.0]),
        [make_row(run_id="inside", model="lone-in", value=21.0)],
        [make_row(run_id="above", model="lone-up", value=30.0)],
    )
    (group,) = aggregate_groups(path)
    entries = entries_by_model(group)
    assert entries["lone-up"].single_seed and entries["lone-in"].single_seed
    assert not entries["many"].single_seed
    # 30 is above everything; 21 lies inside many's interval, so they share rank 2.
    assert (entries["lone-up"].rank, entries["many"].rank, entries["lone-in"].rank) == (1, 2, 2)


def test_entry_without_the_ranking_metric_is_unranked_and_last(tmp_path: Path) -> None:
    path = board_of(
        tmp_path,
        rows_for("aaa-diverged", [float("nan"), float("nan")]),
        rows_for("zzz", [20.0, 21.0]),
    )
    (group,) = aggregate_groups(path)
    assert [(e.model, e.rank) for e in group.entries] == [("zzz", 1), ("aaa-diverged", None)]
    assert group.entries[1].summaries == (None,)


def test_by_ranks_by_the_requested_metric(tmp_path: Path) -> None:
    mae = {"metric": "mae", "higher_is_better": False}
    path = board_of(
        tmp_path,
        rows_for("good-psnr", [30.0, 30.1]), rows_for("good-psnr", [0.5, 0.6], **mae),
        rows_for("good-mae", [20.0, 20.1]), rows_for("good-mae", [0.1, 0.2], **mae),
    )  # fmt: skip
    (by_default,) = aggregate_groups(path)
    (by_mae,) = aggregate_groups(path, by="mae")
    assert [e.model for e in by_default.entries] == ["good-psnr", "good-mae"]
    assert [e.model for e in by_mae.entries] == ["good-mae", "good-psnr"]


# ------------------------------------------------------------------------------- seed_table

SEED_TABLE_COLUMNS = [
    *COMPARABLE_KEYS,
    "model", "model_version", "model_args", "precision", "metric", "metric_version",
    "metric_args", "eval_unit", "eval_grid", "higher_is_better", "ranked_by", "n_seeds",
    "seeds", "mean", "std",
    "ci_low", "ci_high", "rank", "single_seed", "run_ids",
]  # fmt: skip


def test_seed_table_from_path_has_documented_columns_and_one_row_per_entry_metric(
    tmp_path: Path,
) -> None:
    mae = {"metric": "mae", "higher_is_better": False}
    path = board_of(
        tmp_path,
        rows_for("cyclegan", [20.0, 21.0, 22.0]), rows_for("cyclegan", [0.2, 0.3, 0.4], **mae),
        [make_row(run_id="lone", model="identity", value=15.0)],
    )  # fmt: skip
    table = seed_table(path)
    assert isinstance(table, pa.Table)
    assert table.column_names == SEED_TABLE_COLUMNS
    assert table.schema.field("seeds").type == pa.list_(pa.int64())
    assert table.schema.field("run_ids").type == pa.list_(pa.string())
    rows = {(r["model"], r["metric"]): r for r in table.to_pylist()}
    assert set(rows) == {("cyclegan", "psnr"), ("cyclegan", "mae"), ("identity", "psnr")}
    psnr = rows[("cyclegan", "psnr")]
    assert (psnr["n_seeds"], psnr["seeds"], psnr["mean"], psnr["rank"]) == (3, [0, 1, 2], 21.0, 1)
    assert psnr["ranked_by"] and not rows[("cyclegan", "mae")]["ranked_by"]
    assert psnr["std"] == pytest.approx(1.0)
    lone = rows[("identity", "psnr")]
    assert lone["single_seed"] and lone["std"] is None and lone["ci_low"] is None
    assert lone["rank"] == 2


def test_seed_table_accepts_a_table_and_converts_to_pandas(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    path = board_of(tmp_path, rows_for("cyclegan", [20.0, 21.0, 22.0]))
    frame = seed_table(read_leaderboard(path)).to_pandas()
    assert list(frame.columns) == SEED_TABLE_COLUMNS
    assert len(frame) == 1
    assert frame.loc[0, "mean"] == pytest.approx(21.0)
    assert list(frame.loc[0, "seeds"]) == [0, 1, 2]


def test_seed_table_of_board_without_ok_rows_is_empty_with_the_schema() -> None:
    table = pa.Table.from_pylist([make_row(status="failed")], schema=SCHEMA)
    result = seed_table(table)
    assert result.num_rows == 0 and result.schema == SEED_TABLE_SCHEMA


# -------------------------------------------------------------------------------- rendering


def test_markdown_shows_mean_std_interval_and_single_seed_mark(tmp_path: Path) -> None:
    path = board_of(
        tmp_path,
        rows_for("cyclegan", [20.0, 21.0, 22.0]),
        [make_row(run_id="0123456789abcdef", model="identity", value=15.0)],
    )
    text = render_markdown(aggregate_groups(path))
    low, high = bootstrap_ci([20.0, 21.0, 22.0])
    # The std to 2 significant figures, the mean and interval to its decimal place.
    assert f"| 21.0 ± 1.0 [{low:.1f}, {high:.1f}] |" in text
    assert "| n=3 (0, 1, 2) |" in text
    assert "| 15.00 (1 seed) |" in text and "| n=1 (0) |" in text
    # Run ids are shortened to 8 characters, comma-separated.
    shown = ", ".join(rid(f"s{s}-cyclegan")[:8] for s in range(3))
    assert f"| {shown} |" in text and "| 01234567 |" in text
    assert "bootstrap CI" in text


def test_many_runs_show_a_count_instead_of_ids(tmp_path: Path) -> None:
    path = board_of(tmp_path, rows_for("cyclegan", [20.0, 21.0, 22.0, 23.0, 24.0]))
    assert "| 5 runs |" in render_markdown(aggregate_groups(path))


# ---------------------------------------------------------------------------------------- CLI


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # In this process: the same command group and error handling, without seconds of start-up.
    return cli_in_process(*args, cwd=cwd)


@pytest.fixture
def three_seed_board(tmp_path: Path) -> Path:
    board_of(tmp_path / DEFAULT_BOARDS, rows_for("cyclegan", [20.0, 21.0, 22.0]))
    return tmp_path


def test_cli_show_aggregates_seeds_by_default(three_seed_board: Path) -> None:
    proc = _cli("leaderboard", "show", cwd=three_seed_board)
    assert proc.returncode == 0, proc.stderr
    assert "±" in proc.stdout and "n=3 (0, 1, 2)" in proc.stdout
    assert "21.0 ± 1.0" in proc.stdout
    # One entry row: the model name appears once in the table body.
    assert proc.stdout.count("cyclegan v1") == 1


def test_cli_show_runs_lists_one_row_per_run(three_seed_board: Path) -> None:
    proc = _cli("leaderboard", "show", "--runs", cwd=three_seed_board)
    assert proc.returncode == 0, proc.stderr
    assert "±" not in proc.stdout
    assert proc.stdout.count("cyclegan v1") == 3
    assert all(f"{v:.2f}" in proc.stdout for v in (20.0, 21.0, 22.0))


def test_cli_export_md_runs_flag(three_seed_board: Path) -> None:
    out = three_seed_board / "board.md"
    args = (
        "leaderboard",
        "export",
        "--dataset",
        "phantom-brain",
        "--format",
        "md",
        "--out",
        str(out),
    )
    assert _cli(*args, cwd=three_seed_board).returncode == 0
    assert "n=3 (0, 1, 2)" in out.read_text()
    assert _cli(*args, "--runs", cwd=three_seed_board).returncode == 0
    assert "| seed |" in out.read_text() and "±" not in out.read_text()


def test_a_replicated_run_counts_as_one_seed_and_is_shown_with_its_devices() -> None:
    xeon = "cpu; Intel(R) Xeon(R) Processor; AVX512; 2 threads; torch 2.14.1"
    epyc = "cpu; AMD EPYC 7B13; AVX2; 2 threads; torch 2.14.1"
    table = table_of(
        make_row(run_id="s0", seed=0, device=xeon, value=21.0),
        make_row(run_id="s0", seed=0, device=epyc, value=22.0),
        make_row(run_id="s1", seed=1, device=xeon, value=23.5),
    )
    (group,) = aggregate_groups(table)
    (entry,) = group.entries
    (summary,) = entry.summaries
    assert entry.n_seeds == 2 and entry.replicated_runs == 1
    assert summary is not None and summary.mean == pytest.approx((21.5 + 23.5) / 2)
    assert entry.devices == (epyc, xeon)
    text = markdown(table)
    assert (
        "AMD EPYC 7B13 AVX2 ×2, Intel Xeon AVX512 ×2 (1 run(s) replicated across devices)" in text
    )
    assert "[21.00–22.00 on 2 devices]" in markdown(table, runs=True)
