"""Training histories, leaderboard rows and run folders for the site's curve and chart tests,
made without training anything (so the tests take milliseconds), and an SVG reader."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medganbench.core.history import HistoryRecord
from medganbench.leaderboard.store import write_table
from medganbench.run.history import HISTORY_NAME, write_history
from tests.leaderboard.rows import make_row, table_of

SVG_NS = "{http://www.w3.org/2000/svg}"
#: The protocol of the synthetic runs: scored at their best validation PSNR.
PROTOCOL = "best:psnr@val"
#: Models of the synthetic group and their PSNR around which the seeds scatter.
MODELS = (("pix2pix", 30.0), ("cyclegan", 26.0), ("identity", 20.0))
SEEDS = (0, 1, 2)


def loss(step: int, name: str, value: float) -> HistoryRecord:
    """A training-loss record at ``step``."""
    return HistoryRecord(step, step * 0.008, step * 0.05, "loss", "", name, value)


def val(step: int, name: str, value: float, direction: str = "a2b") -> HistoryRecord:
    """A validation record at ``step``."""
    return HistoryRecord(step, step * 0.008, step * 0.05, "val", direction, name, value)


def training_records(
    steps: int = 300, every: int = 10, val_every: int = 50, offset: float = 0.0
) -> list[HistoryRecord]:
    """Losses ``G_gan`` and ``D`` every ``every`` steps and validation ``psnr`` and ``mae``
    (direction ``a2b``) every ``val_every`` steps, as a run writes them."""
    records = []
    for step in range(every, steps + 1, every):
        records += [loss(step, "G_gan", 1 + math.sin(step / 40)), loss(step, "D", 0.5)]
        if step % val_every == 0:
            records += [
                val(step, "psnr", 20 + offset + step / 50),
                val(step, "mae", 200 - offset - step / 5),
            ]
    return records


#: What the synthetic rows measure besides PSNR: (metric, higher is better, value from PSNR).
_OTHERS = (
    ("ssim", True, lambda psnr: psnr / 40),
    ("mae", False, lambda psnr: 250 - 5 * psnr),
    ("lpips", False, lambda psnr: 1 - psnr / 40),
)


def run_rows(
    run_id: str,
    model: str = "pix2pix",
    seed: int = 0,
    psnr: float = 30.0,
    selected: int = 200,
    *,
    wide: bool = False,
) -> list[dict[str, Any]]:
    """A run's leaderboard rows in direction a2b, scored at step ``selected`` of 300 under
    :data:`PROTOCOL`: psnr and mae per slice; ``wide``: psnr, ssim, mae and lpips, each per
    slice and per patient (eight metric columns, as wide as a real group gets)."""
    common = {
        "run_id": run_id,
        "model": model,
        "seed": seed,
        "protocol": PROTOCOL,
        "selected_step": selected,
        "steps_done": 300,
    }
    metrics = (
        [("psnr", True, lambda v: v), *_OTHERS]
        if wide
        else [("psnr", True, lambda v: v), _OTHERS[1]]
    )
    return [
        make_row(**common, metric=name, value=value(psnr), higher_is_better=higher, eval_unit=unit)
        for name, higher, value in metrics
        for unit in (("slice", "volume") if wide else ("slice",))
    ]


def group_rows(*, wide: bool = False) -> list[dict[str, Any]]:
    """Three models × three seeds of one comparable group (see :func:`run_rows` for ``wide``);
    each run selected at a different step."""
    return [
        row
        for model, psnr in MODELS
        for seed in SEEDS
        for row in run_rows(
            f"{model}-{seed}", model, seed, psnr + 0.7 * seed, selected=150 + 50 * seed, wide=wide
        )
    ]


def write_inputs(work: Path) -> tuple[Path, Path]:
    """A leaderboard of a wide :func:`group_rows` and a runs folder whose runs all have a
    history (offset per run), except the identity runs, recorded before histories existed.

    Returns:
        ``(leaderboard file, runs folder)``.
    """
    rows = group_rows(wide=True)
    board = work / "phantom-brain.arrow"
    write_table(board, table_of(*rows))
    runs = work / "runs"
    for index, run_id in enumerate(dict.fromkeys(r["run_id"] for r in rows)):
        folder = runs / run_id
        folder.mkdir(parents=True)
        if not any(r["run_id"] == run_id and r["model"] == "identity" for r in rows):
            write_history(folder / HISTORY_NAME, training_records(offset=index))
    return board, runs


def svg_root(svg: str) -> ET.Element:
    """The parsed SVG (it must be well-formed XML)."""
    return ET.fromstring(svg)


def polyline_points(root: ET.Element) -> list[list[tuple[float, float]]]:
    """Each ``<polyline>``'s points, in document order."""
    return [
        [(float(x), float(y)) for x, y in (p.split(",") for p in line.get("points", "").split())]
        for line in root.iter(f"{SVG_NS}polyline")
    ]


def marks(root: ET.Element, kind: str) -> list[ET.Element]:
    """The ``<g class="mark KIND">`` groups."""
    return [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == f"mark {kind}"]


def mark_x(group: ET.Element) -> float:
    """The x of a mark's vertical line."""
    line = group.find(f"{SVG_NS}line")
    assert line is not None and line.get("x1") == line.get("x2")
    return float(line.get("x1", "nan"))


def svgs(html: str) -> list[ET.Element]:
    """Every ``<svg>…</svg>`` in ``html``, parsed."""
    out = []
    start = html.find("<svg")
    while start >= 0:
        end = html.index("</svg>", start) + len("</svg>")
        out.append(svg_root(html[start:end]))
        start = html.find("<svg", end)
    return out


def classes(root: ET.Element) -> Sequence[str]:
    """The ``class`` words of an element."""
    return (root.get("class") or "").split()
