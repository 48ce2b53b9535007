"""Scoring a reader study folder and readers' answers files (:mod:`medganbench.study.score`),
and its leaderboard rows (:mod:`medganbench.study.rows`).

The study folders are written by hand here (a tiny manifest and key), independent of
``medganbench study create``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from medganbench.errors import DataError, UsageError
from medganbench.leaderboard.ranking import ranked_groups
from medganbench.leaderboard.schema import LeaderboardRow, rows_to_table
from medganbench.study.formats import (
    KEY_NAME,
    MANIFEST_NAME,
    READER_DIR,
    REAL,
    SYNTHETIC,
    Answer,
    ReaderAnswers,
    StudyKey,
    StudyManifest,
    TrialKey,
    manifest_sha256,
)
from medganbench.study.rows import TRACK, reader_study_rows, run_rows_of, study_run_id
from medganbench.study.score import score_study, summary_lines
from medganbench.study.stats import chance_p_value, reader_scores
from tests.leaderboard.rows import make_row

RUNS = ("1111111111111111", "2222222222222222")
#: Per block: three real and three synthetic trials.
PER_TRUTH = 3
NOW = datetime(2025, 1, 2, 3, 4, tzinfo=timezone.utc)


def _trial(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:16]


def _identity(run: str) -> dict[str, Any]:
    """The key's record of a run: its row without the metric columns."""
    row = make_row(run_id=run, model="pix2pix", seed=int(run[0]))
    return {
        k: v
        for k, v in row.items()
        if not k.startswith("metric") and k not in ("value", "created_at")
    }


def write_study(
    root: Path,
    title: str = "t",
    quality_levels: int = 0,
    truths: Callable[[int], str] | None = None,
) -> tuple[Path, StudyKey]:
    """A study folder of two runs' blocks of 3 real + 3 synthetic trials, interleaved."""
    trials: dict[str, TrialKey] = {}
    for n in range(2 * 2 * PER_TRUTH):
        truth = truths(n) if truths else (REAL if n % 2 else SYNTHETIC)
        trials[_trial(n)] = TrialKey(truth, RUNS[(n // 2) % 2], n)
    manifest = StudyManifest(
        title, tuple(trials), confidence_levels=5, quality_levels=quality_levels
    )
    key = StudyKey(
        manifest_sha256(manifest), 0, {r: _identity(r) for r in RUNS}, trials, "test", (0.0, 1.0)
    )
    (root / READER_DIR).mkdir(parents=True)
    (root / READER_DIR / MANIFEST_NAME).write_text(json.dumps(manifest.to_json()))
    (root / KEY_NAME).write_text(json.dumps(key.to_json()))
    return root, key


def write_answers(
    path: Path,
    key: StudyKey,
    reader: str,
    answer: Callable[[TrialKey], tuple[str, int]],
    quality: Callable[[TrialKey], int | None] = lambda t: None,
    signature: str | None = None,
) -> Path:
    answers = tuple(
        Answer(trial, *answer(truth), quality=quality(truth)) for trial, truth in key.trials.items()
    )
    path.write_text(
        json.dumps(ReaderAnswers(signature or key.study_sha256, reader, answers).to_json())
    )
    return path


def always_real(truth: TrialKey) -> tuple[str, int]:
    return REAL, 3


def perfect(truth: TrialKey) -> tuple[str, int]:
    return truth.truth, 1 + truth.item % 5


def opposite(truth: TrialKey) -> tuple[str, int]:
    return (SYNTHETIC if truth.truth == REAL else REAL), 5


def _study(tmp_path: Path, *readers: tuple[str, Callable[[TrialKey], tuple[str, int]]]) -> Any:
    study, key = write_study(tmp_path / "study")
    files = [write_answers(tmp_path / f"{name}.json", key, name, a) for name, a in readers]
    return score_study(study, files), key


def test_a_reader_who_always_answers_real_gets_the_predicted_scores(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", always_real))
    for group in [*scores.blocks.values(), scores.overall]:
        s = group.readers["ann"]
        assert s.accuracy.value == 0.5
        assert (s.sensitivity.value, s.specificity.value, s.auc) == (0.0, 1.0, 0.5)
        assert s.p_value == pytest.approx(1.0)
    assert list(scores.blocks) == list(RUNS)
    assert scores.blocks[RUNS[0]].trials == 2 * PER_TRUTH
    assert scores.overall.trials == 4 * PER_TRUTH


def test_each_block_is_scored_on_its_own_trials(tmp_path: Path) -> None:
    # Right on run 1's block, always "real" on run 2's.
    def mixed(truth: TrialKey) -> tuple[str, int]:
        return perfect(truth) if truth.block == RUNS[0] else always_real(truth)

    scores, _ = _study(tmp_path, ("ann", mixed))
    assert scores.blocks[RUNS[0]].readers["ann"].accuracy.value == 1.0
    assert scores.blocks[RUNS[1]].readers["ann"].accuracy.value == 0.5
    assert scores.overall.readers["ann"].accuracy.value == 0.75
    assert scores.overall.readers["ann"].p_value == pytest.approx(chance_p_value(9, 12))


def test_pooled_scores_are_the_mean_over_readers(tmp_path: Path) -> None:
    scores, key = _study(tmp_path, ("ann", perfect), ("bob", opposite), ("cy", always_real))
    block = scores.blocks[RUNS[1]]
    trials = [t for t in key.trials.values() if t.block == RUNS[1]]
    expected = reader_scores(
        [t.truth for t in trials], [perfect(t)[0] for t in trials], [perfect(t)[1] for t in trials]
    )
    assert block.readers["ann"] == expected
    assert block.pooled.accuracy.value == pytest.approx((1 + 0 + 0.5) / 3)
    assert block.pooled.auc == pytest.approx((1 + 0 + 0.5) / 3)
    assert (block.pooled.accuracy.successes, block.pooled.accuracy.trials) == (9, 18)
    assert block.agreement.fleiss is not None and block.agreement.cohen is None


def test_one_reader_has_no_kappa(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", perfect))
    assert scores.overall.agreement.fleiss is None
    assert "two readers" in scores.overall.agreement.note


def test_quality_scores_are_averaged_per_truth(tmp_path: Path) -> None:
    study, key = write_study(tmp_path / "study", quality_levels=5)
    files = [
        write_answers(
            tmp_path / "a.json", key, "ann", perfect, lambda t: 4 if t.truth == REAL else 2
        ),
        write_answers(
            tmp_path / "b.json", key, "bob", perfect, lambda t: 5 if t.truth == REAL else None
        ),
    ]
    quality = score_study(study, files).blocks[RUNS[0]].quality
    assert quality is not None
    assert quality["readers"]["ann"] == {REAL: 4.0, SYNTHETIC: 2.0}
    assert quality["readers"]["bob"] == {REAL: 5.0, SYNTHETIC: None}
    assert quality["pooled"] == {REAL: 4.5, SYNTHETIC: 2.0}


def test_the_summary_names_each_reader_and_says_why_there_is_no_kappa(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", always_real))
    text = "\n".join(summary_lines(scores))
    assert f"Run {RUNS[0]}: 3 real and 3 synthetic trials" in text
    assert "  ann " in text and "0.500 [" in text
    assert "κ needs two readers or more" in text


def test_no_quality_scores_give_none(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", perfect))
    assert scores.blocks[RUNS[0]].quality is None


def test_answers_to_another_study_are_refused(tmp_path: Path) -> None:
    study, key = write_study(tmp_path / "study")
    other = write_answers(tmp_path / "a.json", key, "ann", perfect, signature="f" * 64)
    with pytest.raises(DataError, match="not this study"):
        score_study(study, [other])


def test_two_files_of_one_reader_are_refused(tmp_path: Path) -> None:
    study, key = write_study(tmp_path / "study")
    files = [write_answers(tmp_path / f"{n}.json", key, "ann", perfect) for n in "ab"]
    with pytest.raises(DataError, match="reader 'ann'"):
        score_study(study, files)


def test_an_unbalanced_block_is_refused(tmp_path: Path) -> None:
    study, key = write_study(tmp_path / "study", truths=lambda n: REAL if n else SYNTHETIC)
    answers = write_answers(tmp_path / "a.json", key, "ann", perfect)
    with pytest.raises(DataError, match="as many of each"):
        score_study(study, [answers])


def test_a_key_of_another_manifest_is_refused(tmp_path: Path) -> None:
    study, key = write_study(tmp_path / "study")
    answers = write_answers(tmp_path / "a.json", key, "ann", perfect)
    other = StudyManifest("other", tuple(key.trials))
    (study / READER_DIR / MANIFEST_NAME).write_text(json.dumps(other.to_json()))
    with pytest.raises(DataError, match="not of the manifest"):
        score_study(study, [answers])


def test_no_answers_files_is_a_usage_error(tmp_path: Path) -> None:
    study, _ = write_study(tmp_path / "study")
    with pytest.raises(UsageError, match="one file per reader"):
        score_study(study, [])


def test_without_statsmodels_scoring_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study, key = write_study(tmp_path / "study")
    answers = write_answers(tmp_path / "a.json", key, "ann", perfect)
    monkeypatch.setitem(sys.modules, "statsmodels", None)  # find_spec then finds nothing
    with pytest.raises(UsageError) as raised:
        score_study(study, [answers])
    assert "pip install 'medganbench[study]'" in str(raised.value)


# --------------------------------------------------------------------------- leaderboard rows


def _run_rows() -> dict[str, LeaderboardRow]:
    return {
        r: LeaderboardRow.from_mapping(make_row(run_id=r, model="pix2pix", seed=int(r[0])))
        for r in RUNS
    }


def _details(row: LeaderboardRow) -> Mapping[str, Any]:
    details = json.loads(row.metric_details)
    assert isinstance(details, dict)
    return details


def test_rows_per_block_and_metric_carry_the_study(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", perfect), ("bob", always_real))
    rows = reader_study_rows(scores, _run_rows(), created_at=NOW)
    metrics = [
        "reader-accuracy",
        "reader-sensitivity",
        "reader-specificity",
        "reader-auc",
        "reader-kappa",
    ]
    assert [r.metric for r in rows] == metrics * 2
    first = rows[0]
    assert first.track == TRACK == "reader-study"
    assert first.run_id == study_run_id(scores.study_sha256, RUNS[0]) != RUNS[0]
    assert (first.model, first.seed, first.created_at) == ("pix2pix", 1, NOW)
    assert first.value == pytest.approx(0.75)
    assert not first.higher_is_better and rows[4].higher_is_better
    details = _details(first)
    assert (details["readers"], details["trials"]) == (2, 2 * PER_TRUTH)
    assert details["source_run_id"] == RUNS[0]
    assert details["study_sha256"] == scores.study_sha256
    assert details["per_reader"]["bob"]["p_value"] == pytest.approx(1.0)
    assert details["per_reader"]["ann"]["ci95"][1] == 1.0
    assert "Clopper-Pearson" in details["interval"]


def test_rows_survive_a_table_round_trip(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", perfect))
    rows = reader_study_rows(scores, _run_rows(), created_at=NOW)
    assert rows_to_table(rows).num_rows == len(rows)


def test_one_reader_gives_no_kappa_row(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", perfect))
    rows = reader_study_rows(scores, _run_rows(), created_at=NOW)
    assert "reader-kappa" not in {r.metric for r in rows}
    assert "two readers" in _details(rows[0])["kappa"]["note"]


def test_reader_study_rows_group_apart_from_the_runs_rows(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", perfect), ("bob", always_real))
    study_rows = reader_study_rows(scores, _run_rows(), created_at=NOW)
    table = rows_to_table([*_run_rows().values(), *study_rows])
    groups = ranked_groups(table)
    assert [g.key["track"] for g in groups] == ["budgeted", "reader-study"]
    reader_group = groups[1]
    assert {m.metric for m in reader_group.metrics} == {r.metric for r in study_rows}
    assert not any(m.metric == "psnr" for m in reader_group.metrics)


def test_rows_from_the_keys_record_alone(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", perfect))
    from_key = reader_study_rows(scores, created_at=NOW)
    from_board = reader_study_rows(scores, _run_rows(), created_at=NOW)
    assert from_key == from_board


def test_a_key_without_the_full_row_needs_the_leaderboard(tmp_path: Path) -> None:
    scores, key = _study(tmp_path, ("ann", perfect))
    short = dataclasses.replace(key, runs={r: {"model": "pix2pix"} for r in RUNS})
    with pytest.raises(UsageError, match="not on the leaderboard"):
        reader_study_rows(dataclasses.replace(scores, key=short))


def test_a_run_row_contradicting_the_key_is_refused(tmp_path: Path) -> None:
    scores, _ = _study(tmp_path, ("ann", perfect))
    rows = _run_rows()
    rows[RUNS[1]] = rows[RUNS[1]].replace(dataset_fingerprint="another")
    with pytest.raises(DataError, match="dataset_fingerprint"):
        reader_study_rows(scores, rows)


def test_run_rows_of_picks_the_latest_row_of_the_keyed_direction(tmp_path: Path) -> None:
    _, key = write_study(tmp_path / "study")
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    rows = [
        LeaderboardRow.from_mapping(make_row(run_id=RUNS[0], metric="ssim")),
        LeaderboardRow.from_mapping(make_row(run_id=RUNS[0], direction="b2a", created_at=later)),
        LeaderboardRow.from_mapping(make_row(run_id=RUNS[0], track=TRACK, created_at=later)),
        LeaderboardRow.from_mapping(make_row(run_id="3333333333333333")),
    ]
    assert run_rows_of(rows, key) == {RUNS[0]: rows[0]}


def test_a_keys_json_columns_may_be_objects(tmp_path: Path) -> None:
    scores, key = _study(tmp_path, ("ann", perfect))
    runs = {r: {**v, "model_args": {"direction": "a2b"}} for r, v in key.runs.items()}
    keyed = dataclasses.replace(scores, key=dataclasses.replace(key, runs=runs))
    assert reader_study_rows(keyed, _run_rows(), created_at=NOW) == reader_study_rows(
        scores, _run_rows(), created_at=NOW
    )
