"""The reader-study statistics against independent implementations (scikit-learn, scipy,
statsmodels' own examples) and golden values computed by hand or printed by R."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (  # type: ignore[import-untyped]
    cohen_kappa_score,
    confusion_matrix,
    roc_auc_score,
)

from medganbench.study.formats import REAL, SYNTHETIC
from medganbench.study.stats import (
    agreement,
    chance_p_value,
    pooled,
    proportion,
    rating,
    rating_auc,
    reader_scores,
)

#: A balanced block of 10 trials: 5 real, then 5 synthetic.
TRUTHS = [REAL] * 5 + [SYNTHETIC] * 5


def _random_reader(rng: np.random.Generator, n: int) -> tuple[list[str], list[int]]:
    answers = [SYNTHETIC if x else REAL for x in rng.integers(0, 2, n)]
    return answers, [int(c) for c in rng.integers(1, 6, n)]


def test_proportion_interval_is_clopper_pearson_as_r_prints_it() -> None:
    # R 4.x, ?binom.test's example: binom.test(682, 925, p = 0.75) prints
    # "95 percent confidence interval: 0.7076683 0.7654066".
    p = proportion(682, 925)
    assert p.value == pytest.approx(682 / 925)
    assert (p.low, p.high) == pytest.approx((0.7076683, 0.7654066), abs=1e-7)


def test_proportion_interval_reaches_the_bounds_at_zero_and_all() -> None:
    # Clopper-Pearson at 0/n: [0, 1 - 0.025^(1/n)]; at n/n: [0.025^(1/n), 1].
    assert (proportion(0, 10).low, proportion(0, 10).high) == pytest.approx((0.0, 1 - 0.025**0.1))
    assert (proportion(10, 10).low, proportion(10, 10).high) == pytest.approx((0.025**0.1, 1.0))


def test_proportion_refuses_no_trials() -> None:
    with pytest.raises(ValueError):
        proportion(0, 0)


def test_chance_p_value_is_the_exact_two_sided_binomial_test() -> None:
    # 7 of 10 against 0.5: 2 * P(X >= 7) = 2 * (120 + 45 + 10 + 1) / 1024.
    assert chance_p_value(7, 10) == pytest.approx(2 * 176 / 1024)
    assert chance_p_value(5, 10) == pytest.approx(1.0)
    assert chance_p_value(3, 10) == pytest.approx(chance_p_value(7, 10))


def test_rating_signs_the_confidence_by_the_answer() -> None:
    assert [rating(SYNTHETIC, 3), rating(REAL, 3), rating(REAL, 1)] == [3, -3, -1]
    with pytest.raises(ValueError):
        rating("fake", 2)


def test_rating_auc_by_hand() -> None:
    # Synthetic ratings 3, 1, -1 against real -2, 1, -3: 3 + 2.5 + 2 of 9 pairs (one tie at 1).
    truths = [SYNTHETIC] * 3 + [REAL] * 3
    assert rating_auc(truths, [3, 1, -1, -2, 1, -3]) == pytest.approx(7.5 / 9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rating_auc_matches_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truths = [SYNTHETIC if x else REAL for x in rng.permutation([0, 1] * 20)]
    answers, confidences = _random_reader(rng, 40)
    ratings = [rating(a, c) for a, c in zip(answers, confidences, strict=True)]
    expected = roc_auc_score([t == SYNTHETIC for t in truths], ratings)
    assert rating_auc(truths, ratings) == pytest.approx(expected, abs=1e-12)


def test_reader_scores_match_sklearns_confusion_matrix() -> None:
    rng = np.random.default_rng(3)
    truths = [SYNTHETIC if x else REAL for x in rng.permutation([0, 1] * 15)]
    answers, confidences = _random_reader(rng, 30)
    (tn, fp), (fn, tp) = confusion_matrix(truths, answers, labels=[REAL, SYNTHETIC])
    s = reader_scores(truths, answers, confidences)
    assert s.accuracy.value == pytest.approx((tp + tn) / 30)
    assert s.sensitivity.value == pytest.approx(tp / (tp + fn))
    assert s.specificity.value == pytest.approx(tn / (tn + fp))
    assert s.p_value == pytest.approx(chance_p_value(int(tp + tn), 30))


def test_a_reader_who_always_answers_real_is_at_chance() -> None:
    s = reader_scores(TRUTHS, [REAL] * 10, [4] * 10)
    assert s.accuracy.value == 0.5
    assert s.sensitivity.value == 0.0
    assert s.specificity.value == 1.0
    assert s.auc == 0.5
    assert s.p_value == pytest.approx(1.0)


def test_a_perfect_reader_scores_one() -> None:
    s = reader_scores(TRUTHS, TRUTHS, [2] * 10)
    assert (s.accuracy.value, s.sensitivity.value, s.specificity.value, s.auc) == (1, 1, 1, 1)
    assert s.p_value == pytest.approx(2 / 1024)


def test_a_reader_answering_the_opposite_scores_zero() -> None:
    opposite = [SYNTHETIC if t == REAL else REAL for t in TRUTHS]
    s = reader_scores(TRUTHS, opposite, [5] * 10)
    assert (s.accuracy.value, s.sensitivity.value, s.specificity.value, s.auc) == (0, 0, 0, 0)


def test_reader_scores_refuse_a_set_without_synthetic_trials() -> None:
    with pytest.raises(ValueError):
        reader_scores([REAL] * 4, [REAL] * 4, [1] * 4)


def test_pooled_sums_counts_and_averages_aucs() -> None:
    perfect = reader_scores(TRUTHS, TRUTHS, [2] * 10)
    always_real = reader_scores(TRUTHS, [REAL] * 10, [4] * 10)
    p = pooled([perfect, always_real])
    assert (p.accuracy.successes, p.accuracy.trials) == (15, 20)
    assert (p.sensitivity.successes, p.sensitivity.trials) == (5, 10)
    assert (p.specificity.successes, p.specificity.trials) == (10, 10)
    assert p.auc == pytest.approx(0.75)
    assert p.p_value == pytest.approx(chance_p_value(15, 20))
    assert p.readers == 2


def test_one_reader_has_no_kappa_and_says_why() -> None:
    a = agreement([[REAL, SYNTHETIC]])
    assert (a.fleiss, a.cohen) == (None, None)
    assert "two readers" in a.note


def test_two_identical_readers_agree_fully() -> None:
    answers, _ = _random_reader(np.random.default_rng(4), 30)
    a = agreement([answers, answers])
    assert a.fleiss == pytest.approx(1.0)
    assert a.cohen == pytest.approx(1.0)


def test_cohens_kappa_of_the_textbook_table() -> None:
    # Wikipedia's worked example: yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o 0.7,
    # p_e 0.5, kappa 0.4.
    first = [SYNTHETIC] * 25 + [REAL] * 25
    second = [SYNTHETIC] * 20 + [REAL] * 5 + [SYNTHETIC] * 10 + [REAL] * 15
    assert agreement([first, second]).cohen == pytest.approx(0.4)


@pytest.mark.parametrize("seed", [5, 6])
def test_cohens_kappa_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first = [SYNTHETIC if x else REAL for x in rng.integers(0, 2, 40)]
    second = [a if rng.random() < 0.7 else REAL for a in first]
    assert agreement([first, second]).cohen == pytest.approx(cohen_kappa_score(first, second))


def test_fleiss_kappa_by_hand() -> None:
    # Three readers, four trials with 3, 0, 2, 1 "synthetic" answers: P_i = 1, 1, 1/3, 1/3, so
    # P-bar = 2/3; p_synthetic = 6/12, P_e = 1/2; kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
    s, r = SYNTHETIC, REAL
    readers = [[s, r, s, s], [s, r, s, r], [s, r, r, r]]
    a = agreement(readers)
    assert a.fleiss == pytest.approx(1 / 3)
    assert a.cohen is None


def test_fleiss_kappa_by_hand_with_unequal_marginals() -> None:
    # 3, 0, 0, 1 "synthetic" answers: P_i = 1, 1, 1, 1/3, P-bar = 5/6; p_synthetic = 4/12,
    # P_e = 1/9 + 4/9 = 5/9; kappa = (5/6 - 5/9) / (1 - 5/9) = 5/8 (Randolph's free-marginal
    # kappa, with P_e = 1/2, would give 2/3).
    s, r = SYNTHETIC, REAL
    readers = [[s, r, r, s], [s, r, r, r], [s, r, r, r]]
    assert agreement(readers).fleiss == pytest.approx(5 / 8)


def test_independent_random_readers_agree_by_chance_only() -> None:
    rng = np.random.default_rng(7)
    readers = [_random_reader(rng, 3000)[0] for _ in range(3)]
    fleiss = agreement(readers).fleiss
    assert fleiss is not None and abs(fleiss) < 0.04


def test_kappa_is_undefined_when_every_answer_is_the_same() -> None:
    a = agreement([[REAL] * 6, [REAL] * 6])
    assert (a.fleiss, a.cohen) == (None, None)
    assert "same answer" in a.note
