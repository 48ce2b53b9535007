"""A scored reader study's leaderboard rows: per block (one model run), one row per
reader-study metric, on the ``reader-study`` track.

``track`` is one of the keys that make rows comparable
(:data:`~medganbench.leaderboard.ranking.COMPARABLE_KEYS`), so reader-study rows are ranked only
with each other, never with computed metrics. Each row copies the identity and the costs of the
run whose images the readers saw (its own leaderboard row), under a run id of its own per study
× run (:func:`study_run_id`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from medganbench import __version__
from medganbench.core.params import canonical_json
from medganbench.errors import DataError, UsageError
from medganbench.leaderboard.schema import JSON_COLUMNS, SCHEMA, LeaderboardRow
from medganbench.study.formats import StudyKey
from medganbench.study.score import GroupScores, StudyScores
from medganbench.study.stats import INTERVAL, Proportion

#: The leaderboard track of reader-study rows.
TRACK = "reader-study"
#: The version of every reader-study metric (bump when a formula changes).
METRIC_VERSION = "1"

#: The reader-study metrics, in row order: name → (what its value is, higher is better).
METRICS: dict[str, tuple[str, bool]] = {
    "reader-accuracy": ("share of trials readers classed correctly as real or synthetic", False),
    "reader-sensitivity": ("share of synthetic images readers called synthetic", False),
    "reader-specificity": ("share of real images readers called real", False),
    "reader-auc": (
        "ROC area of the readers' confidence ratings (synthetic with confidence c = +c, real "
        "= -c; Mann-Whitney probability that a synthetic trial rates above a real one, ties "
        "1/2; Hanley & McNeil 1982)",
        False,
    ),
    "reader-kappa": ("Fleiss' kappa of the readers' real/synthetic answers", True),
}
#: What each kind of metric's convention adds to its own sentence ({readers}: how many).
CONVENTION = {
    "proportion": (
        "positive class = synthetic; each reader saw every trial of the run's balanced block (as "
        "many real as synthetic images); value = the mean over {readers} readers; per-reader "
        "values in metric_details (accuracy, sensitivity, specificity with {interval}s; "
        "accuracy with two-sided exact binomial tests against 0.5); lower = readers less able "
        "to tell the run's images from real ones (accuracy and AUC: 0.5 = chance)"
    ),
    "kappa": (
        "{readers} readers on every trial of the run's balanced block (Cohen's kappa too in "
        "metric_details with exactly two); the agreement among readers, the study's "
        "reliability rather than the run's quality: 1 = full agreement, 0 = chance agreement"
    ),
}
#: The columns a row takes from the study rather than from the run's own row.
_STUDY_COLUMNS = frozenset(
    {"run_id", "created_at", "track", "eval_split", "eval_unit", "eval_grid", "metric"}
    | {"metric_version", "metric_convention", "metric_args", "metric_details", "value"}
    | {"noise_floor", "weights", "higher_is_better", "status", "medganbench_version"}
)
#: The run identity columns the key records and a run's row must agree with.
_IDENTITY = (
    "model", "model_version", "model_args", "dataset", "dataset_version", "dataset_args",
    "dataset_fingerprint", "image_size", "direction", "seed", "protocol",
)  # fmt: skip


def study_run_id(study_sha256: str, run_id: str) -> str:
    """The run id of a study's rows of one run: 16 hex digits of SHA-256 of both (canonical
    JSON), so each study × run is its own set of rows and scoring again gives the same id."""
    identity = canonical_json({"study_sha256": study_sha256, "run_id": run_id})
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def run_rows_of(rows: Iterable[LeaderboardRow], key: StudyKey) -> dict[str, LeaderboardRow]:
    """The leaderboard row each of the study's runs is copied from: per run id in
    ``key.runs``, its most recent ``status == "ok"`` row that is not a reader-study row, of the
    direction the key records (runs absent from ``rows`` are absent from the result)."""
    found: dict[str, LeaderboardRow] = {}
    for row in rows:
        identity = key.runs.get(row.run_id)
        if identity is None or row.status != "ok" or row.track == TRACK:
            continue
        if identity.get("direction", row.direction) != row.direction:
            continue
        if row.run_id not in found or row.created_at >= found[row.run_id].created_at:
            found[row.run_id] = row
    return found


def reader_study_rows(
    scores: StudyScores,
    run_rows: Mapping[str, LeaderboardRow] | None = None,
    created_at: datetime | None = None,
) -> list[LeaderboardRow]:
    """The ``track="reader-study"`` rows of a scored study: per block (run id, in ``key.runs``
    order), one row each of reader-accuracy, -sensitivity, -specificity, -auc and, with two
    readers or more and where defined, -kappa.

    Each row is the run's own leaderboard row (``run_rows[run]``, e.g. from
    :func:`run_rows_of`; else the key's record of the run, which must then hold every column)
    with these columns replaced: ``run_id`` (:func:`study_run_id`), ``created_at`` (default:
    now), ``track``, ``eval_split`` (the study's split), ``eval_unit="slice"`` and
    ``eval_grid="image_size"`` (readers see single images at the run's size), the metric
    columns (``value``: the mean over readers; ``metric_details``: the readers and trials, the
    per-reader values, intervals and binomial p-values, the study's SHA-256 and the run id it
    scores), ``noise_floor=None``, ``weights="{}"``, ``status="ok"``, ``medganbench_version``
    and the metric's ``provenance``. The costs and the budget stay the run's.

    Raises:
        UsageError: a run is neither in ``run_rows`` nor recorded in full by the key.
        DataError: a run's row contradicts the key's record of the run (another model,
            dataset, fingerprint, direction, ...): the wrong leaderboard.
    """
    created_at = created_at or datetime.now(timezone.utc)
    rows = []
    for run, block in scores.blocks.items():
        base = _base_row(run, scores.key.runs[run], (run_rows or {}).get(run))
        common = _details(scores, run, block)
        for metric, (what, higher) in METRICS.items():
            value, details = _metric(metric, block, common)
            if value is None:
                continue
            kind = "kappa" if metric == "reader-kappa" else "proportion"
            convention = CONVENTION[kind].format(readers=block.pooled.readers, interval=INTERVAL)
            rows.append(
                LeaderboardRow.from_mapping(
                    {
                        **base,
                        "run_id": study_run_id(scores.study_sha256, run),
                        "created_at": created_at,
                        "track": TRACK,
                        "eval_split": scores.key.split,
                        "eval_unit": "slice",
                        "eval_grid": "image_size",
                        "metric": metric,
                        "metric_version": METRIC_VERSION,
                        "metric_convention": f"{what}; {convention}",
                        "metric_args": "{}",
                        "metric_details": details,
                        "value": value,
                        "noise_floor": None,
                        "weights": "{}",
                        "higher_is_better": higher,
                        "status": "ok",
                        "medganbench_version": __version__,
                        "provenance": _provenance(base["provenance"]),
                    }
                )
            )
    return rows


def _base_row(run: str, identity: Mapping[str, Any], row: LeaderboardRow | None) -> dict[str, Any]:
    if row is None:
        base = {k: v for k, v in identity.items() if k in SCHEMA.names}
        if missing := [n for n in SCHEMA.names if n not in base and n not in _STUDY_COLUMNS]:
            raise UsageError(
                f"Run {run} of the study is not on the leaderboard given, and the study's key "
                f"does not record its full row (no {', '.join(missing[:4])}, ...).",
                hint="Give the leaderboard the run was recorded on.",
            )
        return {**base, "provenance": base.get("provenance", "{}")}
    for column in _IDENTITY:
        if column in identity and not _same(column, getattr(row, column), identity[column]):
            raise DataError(
                f"Run {run}'s leaderboard row has {column} {getattr(row, column)!r}, but the "
                f"study's key records {identity[column]!r}: not the run the study showed."
            )
    return row.as_dict()


def _same(column: str, recorded: Any, keyed: Any) -> bool:
    if column in JSON_COLUMNS:
        # The row holds canonical JSON; the key an object, or JSON written another way.
        try:
            return bool(
                json.loads(recorded) == (json.loads(keyed) if isinstance(keyed, str) else keyed)
            )
        except ValueError:
            return False
    return bool(recorded == keyed)


def _provenance(base: str | Mapping[str, Any]) -> str:
    """The run's provenance with the metric's distribution: medganbench (``{}`` stays ``{}``)."""
    recorded = json.loads(base) if isinstance(base, str) else dict(base)
    if not recorded:
        return "{}"
    metric = {"name": "medganbench", "version": __version__}
    return canonical_json({**recorded, "metric": metric})


def _ci(p: Proportion) -> dict[str, Any]:
    return {"value": p.value, "successes": p.successes, "trials": p.trials,
            "ci95": [p.low, p.high]}  # fmt: skip


def _details(scores: StudyScores, run: str, block: GroupScores) -> dict[str, Any]:
    """What every row of a block's ``metric_details`` holds."""
    kappa = block.agreement
    return {
        "study_sha256": scores.study_sha256,
        "source_run_id": run,
        "readers": block.pooled.readers,
        "reader_names": list(block.readers),
        # Every reader answered every trial of the block.
        "trials": block.trials,
        # The names the leaderboard's sample-size warnings read (real/generated images).
        "n_real": block.n_real,
        "n_generated": block.n_synthetic,
        "interval": INTERVAL,
        "kappa": {"fleiss": kappa.fleiss, "cohen": kappa.cohen, "note": kappa.note},
        **({"quality": block.quality} if block.quality is not None else {}),
    }


def _metric(
    metric: str, block: GroupScores, common: dict[str, Any]
) -> tuple[float | None, dict[str, Any]]:
    """A block's value of ``metric`` (``None``: not defined) and its ``metric_details``."""
    if metric == "reader-kappa":
        return block.agreement.fleiss, common
    if metric == "reader-auc":
        aucs = {name: s.auc for name, s in block.readers.items()}
        return block.pooled.auc, {**common, "per_reader": aucs}
    name = metric.removeprefix("reader-")
    per_reader: dict[str, Any] = {}
    for reader, s in block.readers.items():
        per_reader[reader] = _ci(getattr(s, name))
        if name == "accuracy":
            per_reader[reader]["p_value"] = s.p_value
    total = _ci(getattr(block.pooled, name))
    if name == "accuracy":
        total["p_value"] = block.pooled.p_value
        total["note"] = (
            "pooled answers are not independent (same images, same readers): the per-reader "
            "tests are the primary ones"
        )
    return total["value"], {**common, "per_reader": per_reader, "pooled": total}
