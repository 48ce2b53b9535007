"""The statistics of a real-vs-synthetic reader study, on plain answers (no files, no study).

The positive class is *synthetic*: sensitivity is the share of synthetic images a reader called
synthetic, specificity the share of real images called real.

- Proportions (accuracy, sensitivity, specificity) come with exact 95 % **Clopper–Pearson**
  intervals (:func:`proportion`; ``scipy.stats.binomtest(...).proportion_ci(method="exact")``):
  they never undercover, which matters at the few dozen trials a reader study has.
- The test against chance is the two-sided exact binomial test of the number of correct answers
  against p = 0.5 (:func:`chance_p_value`). Chance is 0.5 only because every block is balanced
  (as many real as synthetic trials): a reader who always answers "real" is right half the time.
- The AUC is read off the confidence ratings, as the radiology ROC literature does (Hanley &
  McNeil 1982, "The meaning and use of the area under a receiver operating characteristic (ROC)
  curve", Radiology 143:29–36): each answer becomes an ordinal "synthetic-ness" score
  (:func:`rating`: "synthetic" with confidence c → +c, "real" with confidence c → −c, so 2 ×
  ``confidence_levels`` ordered points), and the AUC is the Mann–Whitney probability that a
  synthetic trial scores above a real one, ties counting one half (:func:`rating_auc`), which
  is the area under the empirical ROC curve through every rating threshold.
- Inter-reader agreement on the binary answers (:func:`agreement`): Fleiss' κ for two or more
  readers, and Cohen's κ as well when there are exactly two (statsmodels'
  ``fleiss_kappa``/``cohens_kappa``). κ is not defined for one reader, nor when every answer of
  every reader is the same (chance agreement is then 1 and κ is 0/0): ``None``, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, rankdata

from medganbench.study.formats import REAL, SYNTHETIC

#: The coverage of every interval reported.
CONFIDENCE = 0.95
#: How the intervals are computed, in words (for tables and leaderboard rows).
INTERVAL = "95% Clopper-Pearson (exact binomial) interval"


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``trials``, with its Clopper–Pearson interval ``(low, high)``."""

    successes: int
    trials: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.successes / self.trials


def proportion(successes: int, trials: int) -> Proportion:
    """``successes / trials`` with its exact (Clopper–Pearson) :data:`CONFIDENCE` interval.

    Raises:
        ValueError: no trials, or successes outside ``0 … trials``.
    """
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes of {trials} trials is not a proportion.")
    ci = binomtest(successes, trials).proportion_ci(CONFIDENCE, method="exact")
    return Proportion(successes, trials, float(ci.low), float(ci.high))


def chance_p_value(correct: int, trials: int) -> float:
    """Two-sided exact binomial test of ``correct`` of ``trials`` against p = 0.5."""
    return float(binomtest(correct, trials, 0.5, alternative="two-sided").pvalue)


def rating(answer: str, confidence: int) -> int:
    """An answer as an ordinal synthetic-ness score: +confidence for "synthetic", −confidence
    for "real" (confidence 1 = guessing, so −1 and +1 are the two ratings nearest the middle).

    Raises:
        ValueError: ``answer`` is neither "real" nor "synthetic", or ``confidence`` < 1.
    """
    if answer not in (REAL, SYNTHETIC) or confidence < 1:
        raise ValueError(f"Not an answer: {answer!r} with confidence {confidence}.")
    return confidence if answer == SYNTHETIC else -confidence


def rating_auc(truths: Sequence[str], ratings: Sequence[int]) -> float:
    """The Mann–Whitney AUC: P(a synthetic trial's rating > a real trial's), ties count 1/2.

    Computed from average ranks (``U = R_synthetic − n_s(n_s + 1)/2``, ``AUC = U / (n_s n_r)``).

    Raises:
        ValueError: lengths differ, or no real or no synthetic trial.
    """
    if len(truths) != len(ratings):
        raise ValueError("One rating per trial.")
    synthetic = np.array([t == SYNTHETIC for t in truths])
    n_s, n_r = int(synthetic.sum()), int((~synthetic).sum())
    if n_s == 0 or n_r == 0:
        raise ValueError("The AUC needs real and synthetic trials.")
    ranks = rankdata(np.asarray(ratings, dtype=float))  # ties get their average rank
    u = float(ranks[synthetic].sum()) - n_s * (n_s + 1) / 2
    return u / (n_s * n_r)


@dataclass(frozen=True)
class ReaderScores:
    """One reader's (or the pooled readers') scores on a set of trials.

    Attributes:
        accuracy: correct answers of all trials.
        sensitivity: synthetic trials called synthetic.
        specificity: real trials called real.
        auc: :func:`rating_auc` of the confidence ratings.
        p_value: :func:`chance_p_value` of the correct answers.
    """

    accuracy: Proportion
    sensitivity: Proportion
    specificity: Proportion
    auc: float
    p_value: float


def reader_scores(
    truths: Sequence[str], answers: Sequence[str], confidences: Sequence[int]
) -> ReaderScores:
    """Score one reader's answers to the trials whose truths are ``truths`` (same order).

    Raises:
        ValueError: lengths differ, or no real or no synthetic trial.
    """
    if not len(truths) == len(answers) == len(confidences):
        raise ValueError("One answer and one confidence per trial.")
    pairs = list(zip(truths, answers, strict=True))
    n_s = sum(t == SYNTHETIC for t in truths)
    n_r = len(truths) - n_s
    if n_s == 0 or n_r == 0:
        raise ValueError("A reader is scored on real and synthetic trials.")
    correct = sum(t == a for t, a in pairs)
    return ReaderScores(
        accuracy=proportion(correct, len(pairs)),
        sensitivity=proportion(sum(t == a == SYNTHETIC for t, a in pairs), n_s),
        specificity=proportion(sum(t == a == REAL for t, a in pairs), n_r),
        auc=rating_auc(truths, [rating(a, c) for a, c in zip(answers, confidences, strict=True)]),
        p_value=chance_p_value(correct, len(pairs)),
    )


@dataclass(frozen=True)
class Pooled:
    """Several readers' scores on the same trials, pooled.

    Attributes:
        readers: how many readers.
        accuracy, sensitivity, specificity: the pooled counts (every reader's answers together)
            and their intervals. Every reader answers every trial, so the pooled proportion
            equals the mean of the readers' proportions. The pooled answers are not
            independent (one reader's answers are correlated, and all readers saw the same
            images): the pooled interval is too narrow and the pooled test too liberal; the
            per-reader tests are the primary ones.
        auc: the mean of the readers' AUCs.
        p_value: :func:`chance_p_value` of the pooled correct answers (see above).
    """

    readers: int
    accuracy: Proportion
    sensitivity: Proportion
    specificity: Proportion
    auc: float
    p_value: float


def pooled(scores: Sequence[ReaderScores]) -> Pooled:
    """Pool readers' :class:`ReaderScores` on the same trials (see :class:`Pooled`).

    Raises:
        ValueError: no readers.
    """
    if not scores:
        raise ValueError("No readers to pool.")

    def total(name: str) -> Proportion:
        parts = [getattr(s, name) for s in scores]
        return proportion(sum(p.successes for p in parts), sum(p.trials for p in parts))

    accuracy = total("accuracy")
    return Pooled(
        readers=len(scores),
        accuracy=accuracy,
        sensitivity=total("sensitivity"),
        specificity=total("specificity"),
        auc=float(np.mean([s.auc for s in scores])),
        p_value=chance_p_value(accuracy.successes, accuracy.trials),
    )


@dataclass(frozen=True)
class Agreement:
    """Inter-reader agreement on the binary answers.

    Attributes:
        readers: how many readers.
        fleiss: Fleiss' κ (two or more readers), or ``None`` where not defined.
        cohen: Cohen's κ (exactly two readers), or ``None``.
        note: why a κ is ``None`` (empty when both that apply are defined).
    """

    readers: int
    fleiss: float | None
    cohen: float | None
    note: str


def agreement(answers: Sequence[Sequence[str]]) -> Agreement:
    """κ of readers' answers to the same trials: ``answers[reader][trial]``.

    Needs statsmodels (the ``study`` extra); imported here, when there are two readers or more.

    Raises:
        ValueError: readers answered different numbers of trials.
    """
    if len({len(a) for a in answers}) > 1:
        raise ValueError("Every reader must answer the same trials.")
    if len(answers) < 2:
        return Agreement(len(answers), None, None, "κ needs two readers or more (one reader).")
    # Imported late: statsmodels is an optional extra, and the per-reader scores need it not.
    from statsmodels.stats.inter_rater import (  # type: ignore[import-untyped]
        aggregate_raters,
        cohens_kappa,
        fleiss_kappa,
    )

    called = np.array([[a == SYNTHETIC for a in reader] for reader in answers], dtype=int)
    if called.min() == called.max():
        # Chance agreement is 1, so κ = (1 − 1) / (1 − 1): no information to measure with.
        note = "κ is not defined: every reader gave the same answer to every trial."
        return Agreement(len(answers), None, None, note)
    table, _ = aggregate_raters(called.T, n_cat=2)  # trials × (real, synthetic) counts
    fleiss = float(fleiss_kappa(table, method="fleiss"))
    cohen = None
    if len(answers) == 2:
        # The 2 × 2 table of the two readers' answers, rows reader 1, columns reader 2.
        pair = np.zeros((2, 2), dtype=int)
        np.add.at(pair, (called[0], called[1]), 1)
        cohen = float(cohens_kappa(pair, return_results=False))
    note = "" if cohen is not None else "Cohen's κ is reported for exactly two readers."
    return Agreement(len(answers), fleiss, cohen, note)
