"""How tables print numbers: spreads to 2 significant figures, the mean and interval to the
spread's last decimal place, float rounding as ``± 0``."""

from __future__ import annotations

import re
from pathlib import Path

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.leaderboard.naming import naming_for
from medganbench.leaderboard.numbers import (
    fixed,
    format_estimate,
    format_spread,
    spread_decimals,
)
from medganbench.leaderboard.render import markdown
from medganbench.leaderboard.store import read_leaderboard

COMMITTED = Path(__file__).resolve().parents[2] / "leaderboards" / "phantom-brain.arrow"


def test_the_spread_has_two_significant_figures_and_the_mean_its_decimal_place() -> None:
    assert format_estimate(30.053214, 0.09106) == "30.053 ± 0.091"


def test_the_interval_is_rounded_to_the_same_decimal_place() -> None:
    assert format_estimate(30.053214, 0.09106, (29.99812, 30.1602)) == (
        "30.053 ± 0.091 [29.998, 30.160]"
    )


def test_a_large_spread_rounds_the_mean_to_units_or_tens() -> None:
    assert format_estimate(293.24, 16.64) == "293 ± 17"
    assert format_estimate(1234.0, 567.0) == "1230 ± 570"


def test_a_spread_that_rounds_up_keeps_two_figures() -> None:
    assert spread_decimals(0.0996) == 2
    assert format_estimate(1.2345, 0.0996) == "1.23 ± 0.10"


def test_float_rounding_between_equal_seeds_prints_as_zero_without_an_interval() -> None:
    # identity's MAE over three seeds on the committed board: equal values, std 1.392e-13.
    assert format_estimate(734.7031411529013, 1.392e-13, (734.7, 734.7)) == "734.7 ± 0"


def test_a_small_real_spread_is_printed_with_the_digits_it_needs() -> None:
    # intensity-lookup's PSNR on the committed board: the seeds differ in the fifth decimal.
    assert format_estimate(18.2318313, 0.0002614) == "18.23183 ± 0.00026"


def test_an_all_zero_metric_prints_its_zero_spread_as_zero() -> None:
    assert format_estimate(0.0, 0.0) == "0.000 ± 0"


def test_a_rounded_negative_zero_loses_its_sign() -> None:
    assert fixed(-0.0004, 3) == "0.000"


def test_a_patient_spread_has_two_significant_figures() -> None:
    assert format_spread(2.915) == "2.9"
    assert format_spread(1.4e-13, 700.0) == "0"


def test_no_cell_of_the_committed_board_prints_float_noise_or_more_than_two_spread_figures() -> (
    None
):
    board = read_leaderboard(COMMITTED)
    text = markdown(board, naming=naming_for(board, build_registries(make_plugin_manager())))
    cells = "\n".join(line for line in text.splitlines() if line.startswith("| "))
    spreads = re.findall(r"± ([0-9.e+-]+)", cells)
    assert len(spreads) > 80
    assert not [s for s in spreads if "e" in s]

    # Two significant figures, or the 0 of equal seeds ("350": an integer's trailing zeros
    # hold its place, they are not significant figures).
    def figures(s: str) -> int:
        digits = s.replace(".", "").lstrip("0")
        return len(digits if "." in s else digits.rstrip("0"))

    # "350" is 3.5e2 (two figures), "300" 3.0e2: an integer may show fewer than two.
    assert all(
        s == "0" or figures(s) == 2 or ("." not in s and figures(s) == 1) for s in spreads
    ), spreads
