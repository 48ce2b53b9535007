"""Score a reader study: a study folder and readers' answers files in, the statistics of
:mod:`~medganbench.study.stats` out, per block (one model run's balanced trials), per reader
and pooled over readers, and over the whole study (:func:`score_study`), and in words
(:func:`summary_lines`).

Every block is scored on its own: its trials are as many real as synthetic images, so chance
accuracy is 0.5 and a reader who always answers "real" scores accuracy 0.5, sensitivity 0,
specificity 1 and AUC 0.5. The leaderboard rows are :mod:`~medganbench.study.rows`'s.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medganbench.errors import DataError, UsageError
from medganbench.study.formats import (
    KEY_NAME,
    MANIFEST_NAME,
    READER_DIR,
    REAL,
    SYNTHETIC,
    ReaderAnswers,
    StudyKey,
    manifest_sha256,
    read_answers,
    read_key,
    read_manifest,
)
from medganbench.study.stats import (
    INTERVAL,
    Agreement,
    Pooled,
    ReaderScores,
    agreement,
    pooled,
    reader_scores,
)


@dataclass(frozen=True)
class GroupScores:
    """Every reader's scores on one set of trials: one block, or the whole study.

    Attributes:
        n_real, n_synthetic: the set's trials of each truth (every reader answered all).
        readers: per reader name, in the order the answers files were given.
        pooled: the readers pooled (:class:`~medganbench.study.stats.Pooled`).
        agreement: κ on the binary answers; ``None`` values with one reader (see its ``note``).
        quality: where readers gave quality scores, the mean score per truth class,
            ``{"readers": {name: {"real": m, "synthetic": m}}, "pooled": {...}}`` (a mean is
            ``None`` where no score was given); ``None`` when none was.
    """

    n_real: int
    n_synthetic: int
    readers: Mapping[str, ReaderScores]
    pooled: Pooled
    agreement: Agreement
    quality: Mapping[str, Any] | None

    @property
    def trials(self) -> int:
        return self.n_real + self.n_synthetic


@dataclass(frozen=True)
class StudyScores:
    """A scored study.

    Attributes:
        key: the study's answer key (its runs' identities, its split).
        readers: the readers' names, in the order their answers files were given.
        blocks: per run id (the order of ``key.runs``), that run's block.
        overall: all trials of the study together (not a leaderboard row: it mixes runs).
    """

    key: StudyKey
    readers: tuple[str, ...]
    blocks: Mapping[str, GroupScores]
    overall: GroupScores

    @property
    def study_sha256(self) -> str:
        return self.key.study_sha256


def score_study(study_dir: Path, answer_files: Sequence[Path]) -> StudyScores:
    """Read a study folder (``key.json``, ``reader/study.json``) and readers' answers, and score.

    Args:
        study_dir: the folder ``medganbench study create`` wrote.
        answer_files: one answers file per reader; each must answer every trial of this study.

    Raises:
        UsageError: no answers files, or statsmodels (the ``study`` extra) is not installed.
        DataError: the key does not belong to the manifest, a block is not balanced, an answers
            file is damaged or answers another study (one message naming both signatures), or
            two files come from the same reader.
    """
    if importlib.util.find_spec("statsmodels") is None:
        raise UsageError(
            "Scoring a reader study needs statsmodels (inter-reader agreement).",
            hint="pip install 'medganbench[study]'",
        )
    if not answer_files:
        raise UsageError("No answers files to score: give one file per reader.")
    key = read_key(study_dir / KEY_NAME)
    manifest = read_manifest(study_dir / READER_DIR / MANIFEST_NAME)
    if manifest_sha256(manifest) != key.study_sha256:
        raise DataError(
            f"{study_dir / KEY_NAME} is the key of study {key.study_sha256[:12]}…, not of the "
            f"manifest beside it ({manifest_sha256(manifest)[:12]}…)."
        )
    if set(manifest.trials) != set(key.trials):
        raise DataError(f"{study_dir}: the key and the manifest list different trials.")
    answers = [read_answers(path, manifest, key.study_sha256) for path in answer_files]
    names = [a.reader for a in answers]
    if repeated := sorted({n for n in names if names.count(n) > 1}):
        raise DataError(f"Two answers files come from reader {repeated[0]!r}; give one each.")
    blocks: dict[str, list[str]] = {run: [] for run in key.runs}
    for trial in manifest.trials:
        blocks[key.trials[trial].block].append(trial)
    for run, trials in blocks.items():
        real = sum(key.trials[t].truth == REAL for t in trials)
        if real == 0 or 2 * real != len(trials):
            raise DataError(
                f"{study_dir / KEY_NAME}: the block of run {run} has {real} real and "
                f"{len(trials) - real} synthetic trials; a block must have as many of each."
            )
    return StudyScores(
        key,
        tuple(names),
        {run: _group(key, trials, answers) for run, trials in blocks.items()},
        _group(key, list(manifest.trials), answers),
    )


def _group(key: StudyKey, trials: list[str], answers: Sequence[ReaderAnswers]) -> GroupScores:
    truths = [key.trials[t].truth for t in trials]
    per_reader: dict[str, ReaderScores] = {}
    called: list[list[str]] = []
    quality: dict[str, dict[str, float | None]] = {}
    given: dict[str, list[int]] = {REAL: [], SYNTHETIC: []}
    for reader in answers:
        by_trial = {a.trial: a for a in reader.answers}
        mine = [by_trial[t] for t in trials]
        per_reader[reader.reader] = reader_scores(
            truths, [a.answer for a in mine], [a.confidence for a in mine]
        )
        called.append([a.answer for a in mine])
        scored = {
            truth: [a.quality for a, t in zip(mine, truths, strict=True) if t == truth]
            for truth in (REAL, SYNTHETIC)
        }
        quality[reader.reader] = {
            truth: _mean([q for q in values if q is not None]) for truth, values in scored.items()
        }
        for truth, values in scored.items():
            given[truth].extend(q for q in values if q is not None)
    has_quality = any(given.values())
    return GroupScores(
        n_real=truths.count(REAL),
        n_synthetic=truths.count(SYNTHETIC),
        readers=per_reader,
        pooled=pooled(list(per_reader.values())),
        agreement=agreement(called),
        quality=(
            {"readers": quality, "pooled": {t: _mean(v) for t, v in given.items()}}
            if has_quality
            else None
        ),
    )


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def summary_lines(scores: StudyScores) -> list[str]:
    """The scores as a plain-text table: per block, then overall, one line per reader and one
    pooled, then the agreement (or why there is none)."""
    lines = [
        f"Study {scores.study_sha256[:12]}: {len(scores.readers)} reader(s), "
        f"{scores.overall.trials} trials of the {scores.key.split} split; {INTERVAL}s; "
        "p: two-sided exact binomial test of accuracy against 0.5."
    ]
    groups = [(f"Run {run}", block) for run, block in scores.blocks.items()]
    for title, group in [*groups, ("All runs together", scores.overall)]:
        lines += ["", f"{title}: {group.n_real} real and {group.n_synthetic} synthetic trials"]
        lines.append(f"  {'reader':<16} {'accuracy':<22} {'p':>7}  sensitivity  specificity  AUC")
        rows: list[tuple[str, ReaderScores | Pooled]] = [*group.readers.items()]
        for name, s in [*rows, ("pooled", group.pooled)]:
            a = s.accuracy
            lines.append(
                f"  {name[:16]:<16} {a.value:.3f} [{a.low:.3f}, {a.high:.3f}] {s.p_value:>9.3g}"
                f"  {s.sensitivity.value:>11.3f}  {s.specificity.value:>11.3f}  {s.auc:.3f}"
            )
        k = group.agreement
        kappas = [
            f"{n} κ {v:.3f}"
            for n, v in (("Fleiss'", k.fleiss), ("Cohen's", k.cohen))
            if v is not None
        ]
        lines.append("  " + "; ".join(kappas + ([k.note] if k.note else [])))
    lines.append(
        "Pooled answers are not independent (the same images, the same readers): the "
        "per-reader tests are the primary ones."
    )
    return lines
