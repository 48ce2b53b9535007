"""A run's page: its primary direction first, each metric's convention once."""

from __future__ import annotations

from medganbench.core.params import canonical_json
from medganbench.site.reproduce import Reproduction
from medganbench.site.runs import primary_first, run_body
from tests.leaderboard.rows import make_row

CONVENTION = "PSNR in dB over the body mask, data range = window width"


def _cycle_rows(primary: str) -> list[dict[str, object]]:
    """A cycle model's rows as a merge may order them: the round trip, then both directions."""
    args = canonical_json({"direction": primary})
    return [
        make_row(direction=d, model="cyclegan", model_args=args, metric_convention=CONVENTION)
        for d in ("a2b2a", "b2a", "a2b")
    ]


def test_the_models_own_direction_comes_first() -> None:
    assert [r["direction"] for r in primary_first(_cycle_rows("a2b"))] == ["a2b", "a2b2a", "b2a"]
    assert [r["direction"] for r in primary_first(_cycle_rows("b2a"))] == ["b2a", "a2b2a", "a2b"]


def test_the_values_table_lists_the_primary_direction_first() -> None:
    html = run_body(_cycle_rows("a2b"), [], None, Reproduction("medganbench run", False))
    values = html[html.index("<h2>Values</h2>") :]
    assert values.index(">a2b</td>") < values.index(">a2b2a</td>") < values.index(">b2a</td>")


def test_each_metrics_convention_is_shown_once() -> None:
    html = run_body(_cycle_rows("a2b"), [], None, Reproduction("medganbench run", False))
    assert html.count(CONVENTION) == 1
    assert "<h3>Conventions</h3>" in html and "<dt>psnr v1</dt>" in html
