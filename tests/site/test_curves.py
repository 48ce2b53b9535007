"""Curves against step as SVG (medganbench.site.curves): what is drawn, where marks stand,
non-finite values and bounded point counts."""

from __future__ import annotations

import pytest

from medganbench.site.curves import MAX_POINTS, Curve, StepMark, downsample, step_chart
from tests.site.histories import SVG_NS, mark_x, marks, polyline_points, svg_root


def _chart(curves: list[Curve], *marks_: StepMark) -> str:
    return step_chart(curves, title="t", y_label="loss", marks=marks_)


def test_downsample_returns_a_short_curve_whole_in_step_order() -> None:
    points = [(30, 1.0), (10, 3.0), (20, 2.0)]
    assert downsample(points) == ((10, 3.0), (20, 2.0), (30, 1.0))


def test_downsample_bounds_a_long_curve_and_keeps_its_ends_and_a_one_step_spike() -> None:
    points = [(step, 1.0) for step in range(100_000)]
    points[31_337] = (31_337, 50.0)  # one logged step of a loss spike
    kept = downsample(points)
    assert len(kept) <= MAX_POINTS
    assert kept[0] == (0, 1.0) and kept[-1] == (99_999, 1.0)
    assert (31_337, 50.0) in kept
    assert [s for s, _ in kept] == sorted(s for s, _ in kept)


def test_downsample_refuses_a_limit_without_room_for_a_shape() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        downsample([(1, 1.0)] * 10, limit=3)


def test_one_polyline_per_curve_with_one_vertex_per_point() -> None:
    g = Curve("G_gan", tuple((s, s / 10) for s in range(10, 60, 10)))
    d = Curve("D", tuple((s, 0.5) for s in range(10, 80, 10)))
    root = svg_root(_chart([g, d]))
    assert [len(p) for p in polyline_points(root)] == [5, 7]
    lines = list(root.iter(f"{SVG_NS}polyline"))
    assert [line.get("data-series") for line in lines] == ["G_gan", "D"]


def test_the_selected_mark_stands_at_the_x_of_its_step() -> None:
    curve = Curve("psnr", ((0, 20.0), (50, 25.0), (100, 22.0)))
    root = svg_root(_chart([curve], StepMark(50, "selected (best:psnr@val)", "selected")))
    (vertices,) = polyline_points(root)
    (mark,) = marks(root, "selected")
    assert mark_x(mark) == vertices[1][0]  # the vertex of step 50
    assert mark.get("data-step") == "50"
    assert "selected (best:psnr@val)" in "".join(mark.itertext())


def test_a_mark_between_points_is_placed_on_the_linear_step_scale() -> None:
    curve = Curve("psnr", ((0, 20.0), (100, 22.0)))
    root = svg_root(_chart([curve], StepMark(25, "selected (final)", "selected")))
    (vertices,) = polyline_points(root)
    left, right = vertices[0][0], vertices[1][0]
    assert mark_x(marks(root, "selected")[0]) == pytest.approx(left + (right - left) / 4, abs=0.1)


def test_a_mark_beyond_the_last_point_widens_the_step_axis_to_it() -> None:
    curve = Curve("psnr", ((100, 20.0), (200, 22.0)))
    root = svg_root(_chart([curve], StepMark(300, "selected (final)", "selected")))
    (vertices,) = polyline_points(root)
    x = mark_x(marks(root, "selected")[0])
    # Steps 100, 200, 300 are equally spaced, the mark at the right end of the axis.
    assert x - vertices[1][0] == pytest.approx(vertices[1][0] - vertices[0][0], abs=0.1)


def test_non_finite_values_are_left_out_of_the_line() -> None:
    curve = Curve("G_gan", ((1, 1.0), (2, float("nan")), (3, 2.0), (4, float("inf"))))
    svg = _chart([curve])
    (vertices,) = polyline_points(svg_root(svg))
    assert len(vertices) == 2
    assert "nan" not in svg.lower() and "inf" not in svg.lower()


def test_a_curve_without_a_finite_value_is_only_named_in_the_legend() -> None:
    svg = _chart([Curve("G_gan", ((1, float("nan")),)), Curve("D", ((1, 0.5), (2, 0.4)))])
    assert len(polyline_points(svg_root(svg))) == 1
    assert "G_gan (no finite value)" in svg


def test_a_curve_of_one_point_is_a_dot() -> None:
    root = svg_root(_chart([Curve("psnr", ((100, 20.0),))]))
    assert polyline_points(root) == []
    assert len(list(root.iter(f"{SVG_NS}circle"))) == 1


def test_the_chart_has_a_title_a_description_and_both_axis_labels() -> None:
    svg = step_chart([Curve("D", ((1, 0.5), (2, 0.4)))], title="Losses", y_label="loss", desc="d")
    root = svg_root(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Losses"
    assert root.findtext(f"{SVG_NS}title") == "Losses" and root.findtext(f"{SVG_NS}desc") == "d"
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert "step" in texts and "loss" in texts


def test_labels_from_a_file_are_escaped() -> None:
    svg = _chart([Curve("<script>alert(1)</script>", ((1, 0.5), (2, 0.4)))])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_values_spanning_the_whole_float_range_are_drawn_inside_the_plot() -> None:
    # A hostile history: the span of the values (and of the steps) overflows a float.
    curve = Curve("x", ((-(2**62), -1.7e308), (2**62, 1.7e308)))
    svg = _chart([curve], StepMark(2**63 - 1, "selected (final)", "selected"))
    (vertices,) = polyline_points(svg_root(svg))
    assert vertices[0][1] > vertices[1][1]  # higher values higher up
    assert "nan" not in svg and "inf" not in svg
