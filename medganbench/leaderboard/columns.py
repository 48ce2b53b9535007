"""A leaderboard's metric columns: what one ranked value measures, and how it is labelled.

A column is a metric at one version, with one set of arguments, per one evaluation unit on one
grid (:class:`MetricColumn`); rows of different columns are never averaged or ranked together.
The label every view shows (terminal, markdown, site) is :attr:`MetricColumn.label`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from medganbench.leaderboard.schema import LeaderboardRow

__all__ = ["MetricColumn", "axes_text", "format_args", "measure_text"]


def format_args(args_json: str) -> str:
    """``{"a":1,"b":"x"}`` -> ``"a=1 b=x"``, skipping empty values."""
    try:
        args = json.loads(args_json)
    except ValueError:
        return args_json
    if not isinstance(args, dict):
        return args_json
    parts = []
    for name, value in args.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        parts.append(f"{name}={text}")
    return " ".join(parts)


def axes_text(eval_unit: str, eval_grid: str) -> str:
    """The evaluation axes that differ from the defaults, as a row's label shows them:
    ``""`` per slice, ``"eval_unit=volume"`` per patient, ``"eval_unit=volume, eval_grid=native"``
    per patient on the native grid."""
    parts = [f"eval_unit={eval_unit}"] if eval_unit != "slice" else []
    if eval_grid != "image_size":
        parts.append(f"eval_grid={eval_grid}")
    return ", ".join(parts)


def measure_text(args_json: str, eval_unit: str, eval_grid: str) -> str:
    """What a row measures besides its metric: its arguments (:func:`format_args`) and
    :func:`axes_text`, comma-separated; ``""`` for an argument-free metric per slice."""
    return ", ".join(t for t in (format_args(args_json), axes_text(eval_unit, eval_grid)) if t)


@dataclass(frozen=True)
class MetricColumn:
    """One metric column of a group: a metric at one version, with one set of arguments, per
    one evaluation unit on one grid.

    Attributes:
        metric: metric name.
        version: metric version; different versions are separate columns, never ranked
            together.
        higher_is_better: ranking direction.
        args: canonical JSON of the metric's arguments; LPIPS with AlexNet and with VGG are
            different measures, so different arguments are separate columns too.
        eval_unit: the rows' ``eval_unit`` (``"slice"`` or ``"volume"``): a mean over slices
            and a mean over patients are different measures, never averaged or ranked together.
        eval_grid: the rows' ``eval_grid`` (``"image_size"`` or ``"native"``), likewise.
    """

    metric: str
    version: str
    higher_is_better: bool
    args: str = "{}"
    eval_unit: str = "slice"
    eval_grid: str = "image_size"

    @classmethod
    def of(cls, row: LeaderboardRow) -> MetricColumn:
        """The column ``row`` belongs to."""
        return cls(
            row.metric,
            row.metric_version,
            row.higher_is_better,
            row.metric_args,
            row.eval_unit,
            row.eval_grid,
        )

    @property
    def label(self) -> str:
        """Header text, e.g. ``"psnr ↑ (v1)"``, ``"lpips ↓ (v1, net=vgg)"``, ``"psnr ↑ (v1,
        eval_unit=volume)"`` or ``"psnr ↑ (v1, eval_unit=volume, eval_grid=native)"``."""
        arrow = "↑" if self.higher_is_better else "↓"
        version = self.version if self.version.startswith("v") else f"v{self.version}"
        measure = measure_text(self.args, self.eval_unit, self.eval_grid)
        return f"{self.metric} {arrow} ({version}{', ' + measure if measure else ''})"
