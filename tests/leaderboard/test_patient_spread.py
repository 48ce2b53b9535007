"""The spread between patients of per-patient rows (``eval_unit`` ``"volume"``), pooled over
seeds, and where it shows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medganbench.leaderboard.patients import pooled_spread
from medganbench.leaderboard.render import render_markdown
from medganbench.leaderboard.seeds import aggregate_groups
from medganbench.leaderboard.terminal import render_groups
from medganbench.site.pages import group_section
from tests.leaderboard.rows import make_row, table_of

# Per seed, every test patient's value of one volume row (seed 1 lost a patient to NaN).
PATIENTS = [
    {"p1": 20.0, "p2": 22.0, "p3": 27.0},
    {"p1": 21.0, "p2": 25.0, "p3": float("nan"), "p4": 23.0},
]


def _table():  # type: ignore[no-untyped-def]
    rows = []
    for seed, patients in enumerate(PATIENTS):
        finite = [v for v in patients.values() if math.isfinite(v)]
        details = {"grid": "image_size", "patients": patients, "n_patients": len(patients)}
        rows += [
            make_row(run_id=f"s{seed}", seed=seed, value=21.0 + seed),  # the slice row
            make_row(
                run_id=f"s{seed}",
                seed=seed,
                value=float(np.mean(finite)),
                eval_unit="volume",
                metric_details=json.dumps(details),
            ),
        ]
    return table_of(*rows)


def test_pooled_spread_is_the_within_run_standard_deviation() -> None:
    runs = [[20.0, 22.0, 27.0], [21.0, 25.0, 23.0]]
    got = pooled_spread(runs)
    # Pooled variance: the runs' sample variances weighted by their degrees of freedom.
    want = math.sqrt(sum(np.var(r, ddof=1) * (len(r) - 1) for r in runs) / (2 + 2))
    assert got is not None and got.sd == pytest.approx(want, rel=1e-12)
    assert (got.n_patients, got.n_runs) == (3, 2)
    assert pooled_spread([[5.0]]).sd is None  # type: ignore[union-attr]
    assert pooled_spread([]) is None


def test_seed_aggregate_carries_the_patient_spread_of_volume_columns() -> None:
    (group,) = aggregate_groups(_table())
    (entry,) = group.entries
    by_unit = {
        (c.args, c.eval_unit): s for c, s in zip(group.metrics, entry.patient_spreads, strict=True)
    }
    assert by_unit["{}", "slice"] is None  # slice rows have no patients
    spread = by_unit["{}", "volume"]
    want = pooled_spread([[20.0, 22.0, 27.0], [21.0, 25.0, 23.0]])  # NaN patient left out
    assert (
        spread == want
        and spread is not None
        and spread.sd == pytest.approx(math.sqrt((26 + 8) / 4))
    )


def test_leaderboard_show_and_markdown_show_the_patient_spread() -> None:
    groups = aggregate_groups(_table())
    (rich_table,) = render_groups(groups)
    cells = {column.header: [str(c) for c in column.cells] for column in rich_table.columns}
    assert cells["psnr ↑ (v1, eval_unit=volume)"][0].endswith(" · patient sd 2.9 (n=3)")
    assert "patient" not in cells["psnr ↑ (v1)"][0]
    assert "between patients" in str(rich_table.caption)
    assert "patient sd 2.9 (n=3)" in render_markdown(groups)


def test_site_group_table_shows_the_patient_spread() -> None:
    (group,) = aggregate_groups(_table())
    html = group_section(group, "g0")
    assert "patient sd 2.9 (n=3)" in html and "between patients" in html
