"""Numbers reported by the source papers: registered through the hook, named in our terms."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from medganbench.core.hookspecs import hookimpl
from medganbench.core.manager import (
    build_registries,
    collect_reported_results,
    make_plugin_manager,
)
from medganbench.core.specs import ReportedResult
from medganbench.errors import PluginError
from medganbench_plugins.models.hagan import TABLE4_ABLATION


def _results() -> tuple[ReportedResult, ...]:
    return collect_reported_results(make_plugin_manager(autoload=False))


def _one(table: str, method: str, dataset: str, metric: str) -> float:
    (hit,) = [
        r
        for r in _results()
        if (r.table, r.method, r.dataset, r.metric) == (table, method, dataset, metric)
    ]
    return hit.value


def test_every_reported_result_names_registered_components() -> None:
    registries = build_registries(make_plugin_manager(autoload=False))
    for result in _results():
        assert result.dataset in registries.datasets, result
        assert result.metric in registries.metrics, result
        assert result.model is None or result.model in registries.models, result
        assert result.direction in ("a2b", "b2a")


def test_counts_per_table_are_what_was_transcribed() -> None:
    counts = Counter((r.source, r.table) for r in _results())
    assert counts == {
        ("paper 000 (HLSNC-GAN)", "Table 9"): 4,  # 2 methods × PSNR, SSIM
        ("paper 002 (HAGAN)", "Table II"): 21,  # 7 methods × 3 datasets
        ("paper 002 (HAGAN)", "Table III"): 14,  # 7 methods × 2 datasets
        ("paper 002 (HAGAN)", "Table IV"): 5,
    }


def test_golden_values_as_printed() -> None:
    # 000, Table 9: "HLSNC-GAN(Our)	50.2093	0.9483"; "Cycle-GAN	49.7621	0.9130".
    assert _one("Table 9", "HLSNC-GAN(Our)", "kaggle-brain", "psnr") == 50.2093
    assert _one("Table 9", "Cycle-GAN", "kaggle-brain", "ssim") == 0.9130
    # 002, Table II: "HAGAN(Ours)		88.852		60.792		32.551".
    assert _one("Table II", "HAGAN(Ours)", "brats2018", "fid") == 32.551
    # 002, Table III: "SAGAN [52]		139.371		112.788".
    assert _one("Table III", "SAGAN [52]", "acdc", "fid") == 112.788
    # 002, Table IV: "+ Reverse Skip Connection	✓		✓		115.912".
    assert _one("Table IV", "+ Reverse Skip Connection", "covid-ct", "fid") == 115.912


def test_table_iv_rows_are_the_hagan_ablation_rows() -> None:
    rows = [r for r in _results() if r.table == "Table IV"]
    assert [r.method for r in rows] == list(TABLE4_ABLATION)
    assert {(r.model, r.image_size) for r in rows} == {("hagan", 64)}


def test_notes_carry_the_caveats() -> None:
    notes = {(r.table, r.method, r.dataset, r.metric): r.note for r in _results()}
    # 000: 50 dB PSNR is a convention artefact (papers README).
    assert "convention artefact" in notes[("Table 9", "HLSNC-GAN(Our)", "kaggle-brain", "psnr")]
    # 002, Sec. IV-A: "we segmented 3D MRIs under single mode" (which sequence is not said).
    assert "not stated" in notes[("Table II", "HAGAN(Ours)", "brats2018", "fid")]
    # 002: the text says "from 240.331 to 123.270", Table IV prints 240.231.
    assert "240.331" in notes[("Table IV", "Base Model", "covid-ct", "fid")]


def test_image_sizes_follow_the_tables_resolution() -> None:
    sizes = {r.table: r.image_size for r in _results()}
    assert sizes["Table II"] == 64 and sizes["Table III"] == 256 and sizes["Table 9"] is None


def test_a_third_party_plugin_adds_its_results() -> None:
    extra = ReportedResult(
        source="x",
        table="T1",
        method="M",
        model=None,
        dataset="acdc",
        direction="a2b",
        metric="fid",
        value=1.0,
    )

    class Plugin:
        @hookimpl
        def medganbench_reported_results(self) -> list[ReportedResult]:
            return [extra]

    results = collect_reported_results(make_plugin_manager(autoload=False, extra=(Plugin(),)))
    assert extra in results and len(results) == len(_results()) + 1


def test_a_result_registered_twice_is_refused() -> None:
    class Plugin:
        @hookimpl
        def medganbench_reported_results(self) -> list[ReportedResult]:
            return [_results()[0]]

    with pytest.raises(PluginError, match="registered twice"):
        collect_reported_results(make_plugin_manager(autoload=False, extra=(Plugin(),)))


@pytest.mark.parametrize(
    ("field", "value"), [("value", math.nan), ("method", " "), ("dataset", "")]
)
def test_an_invalid_reported_result_is_a_plugin_error(field: str, value: object) -> None:
    fields = {
        "source": "x",
        "table": "T1",
        "method": "M",
        "model": None,
        "dataset": "acdc",
        "direction": "a2b",
        "metric": "fid",
        "value": 1.0,
    }
    with pytest.raises(PluginError):
        ReportedResult(**{**fields, field: value})  # type: ignore[arg-type]
