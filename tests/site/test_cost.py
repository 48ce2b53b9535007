"""Quality against evaluation cost on the dataset page (medganbench.site.cost)."""

from __future__ import annotations

import math
import re
from typing import Any

from medganbench.leaderboard.seeds import AggregatedGroup, aggregate_groups
from medganbench.site.cost import cost_chart, cost_points, cost_section
from tests.leaderboard.rows import make_row, table_of

#: model → (seconds per image, network evaluations per image, psnr of seed 0).
MODELS = {
    "pix2pix": (0.004, 1, 27.0),
    "cond-ddpm": (0.9, 20, 28.0),
    "identity": (2e-5, 0, 20.0),
}


def _rows(**changes: Any) -> list[dict[str, Any]]:
    rows = []
    for model, (seconds, steps, psnr) in MODELS.items():
        for seed in (0, 1):
            values = {
                "run_id": f"{model}-{seed}",
                "model": model,
                "seed": seed,
                "value": psnr + 0.5 * seed,
                "eval_seconds_per_image": seconds * (1 + 0.1 * seed),
                "sampling_steps": steps,
            }
            rows.append(make_row(**{**values, **changes.get(model, {})}))
    return rows


def _group(**changes: Any) -> AggregatedGroup:
    (only,) = aggregate_groups(table_of(*_rows(**changes)))
    return only


def test_each_entry_is_one_point_at_its_mean_cost_and_value() -> None:
    points = {p.label: p for p in cost_points(_group())}
    assert set(points) == {"pix2pix, 1 NFE", "cond-ddpm, 20 NFE", "identity, 0 NFE"}
    diffusion = points["cond-ddpm, 20 NFE"]
    assert math.isclose(diffusion.seconds, 0.9 * 1.05)
    assert math.isclose(diffusion.value, 28.25)
    assert diffusion.low is not None and diffusion.low <= 28.25 <= (diffusion.high or 0)


def test_entries_without_a_measured_cost_are_left_out() -> None:
    group = _group(identity={"eval_seconds_per_image": None, "sampling_steps": None})
    assert {p.label for p in cost_points(group)} == {"cond-ddpm, 20 NFE", "pix2pix, 1 NFE"}


def test_a_non_finite_or_zero_cost_is_not_drawn() -> None:
    group = _group(
        identity={"eval_seconds_per_image": 0.0},
        pix2pix={"eval_seconds_per_image": float("inf")},
    )
    assert {p.label for p in cost_points(group)} == {"cond-ddpm, 20 NFE"}


def test_the_x_axis_is_logarithmic_in_whole_decades() -> None:
    svg = cost_chart(cost_points(_group()), "psnr ↑", "t")
    labels = re.findall(r'text-anchor="middle">([^<]+)</text>', svg)
    # 2e-5 s to 0.99 s: the decades 1e-05 … 1.
    assert labels[:6] == ["1e-05", "0.0001", "0.001", "0.01", "0.1", "1"]
    assert "seconds per image (log scale)" in svg


def test_every_point_says_its_numbers_on_hover() -> None:
    svg = cost_chart(cost_points(_group()), "psnr ↑", "t")
    assert "<title>cond-ddpm, 20 NFE: psnr ↑ 28.25 [" in svg
    assert "at 0.945 s per image</title>" in svg


def test_the_section_has_a_chart_per_group_with_two_measured_entries() -> None:
    html = cost_section([_group()])
    assert html.startswith('<section id="cost"><h2>Quality against evaluation cost</h2>')
    assert html.count('<svg class="chart"') == 1


def test_no_section_without_two_measured_entries() -> None:
    unmeasured = {"eval_seconds_per_image": None}
    group = _group(identity=unmeasured, pix2pix=unmeasured)
    assert cost_section([group]) == ""


def test_labels_are_escaped() -> None:
    svg = cost_chart(cost_points(_group()), "<b>psnr</b>", "t")
    assert "<b>" not in svg and "&lt;b&gt;psnr&lt;/b&gt;" in svg
