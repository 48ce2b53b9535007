"""The static site: built from a real sweep's leaderboard, checked as files and in a real browser."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.core.specs import ReportedResult
from medganbench.errors import UsageError
from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from medganbench.run.options import RunOptions
from medganbench.site import publish_site
from medganbench.site.build import MARKER, THUMBNAIL_PX
from medganbench.site.hub import PublishError, upload_to_hub
from medganbench.sweep.runner import make_executor, run_sweep
from medganbench.sweep.spec import parse_sweep
from tests.folders import DEFAULT_BOARDS
from tests.site.browser import NO_BROWSER, browser_paths, headless_chrome

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MEDGANBENCH_TEST_ARTIFACTS", ROOT / "test-artifacts"))

# Two models × two seeds × two budgets of real (cheap, non-learned) runs: two comparable groups
# with seed statistics, and a metric-against-budget chart.
SWEEP = {
    "name": "site",
    "image_size": 32,
    "metrics": ["psnr", "mae"],
    "seeds": [0, 1],
    "datasets": ["phantom-brain"],
    "models": ["identity", "intensity-lookup"],
}
REPORTED = ReportedResult(
    source="paper 999 (test)",
    table="Table 1",
    method="Some-GAN",
    model=None,
    dataset="phantom-brain",
    direction="a2b",
    metric="psnr",
    value=99.5,
    image_size=32,
    note="a number no run here reached",
)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A work directory with leaderboards/ and runs/ from real sweeps at two budgets."""
    work = tmp_path_factory.mktemp("measured")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDGANBENCH_HOME", str(tmp_path_factory.getbasetemp() / "home"))
        registries = build_registries(make_plugin_manager(autoload=False))
        options = RunOptions(leaderboard_dir=work / "leaderboards", runs_dir=work / "runs")
        for budget in ("steps=1", "steps=3"):
            sweep = parse_sweep({**SWEEP, "budget": budget}, "site.toml")
            report = run_sweep(sweep, registries, make_executor(registries, "local", {}), options)
            assert report.count("ok") == 4
    yield work


@pytest.fixture(scope="module")
def site(measured: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    registries = build_registries(make_plugin_manager(autoload=False))
    out = tmp_path_factory.mktemp("site") / "site"
    publish_site(
        [leaderboard_path(measured / "leaderboards", "phantom-brain")],
        out,
        runs_dir=measured / "runs",
        registries=registries,
        reported=[REPORTED],
        generated="test",
    )
    return out


def _run_ids(measured: Path) -> list[str]:
    table = read_leaderboard(leaderboard_path(measured / "leaderboards", "phantom-brain"))
    return sorted(set(table.column("run_id").to_pylist()))


def test_index_links_every_dataset(site: Path) -> None:
    index = (site / "index.html").read_text()
    assert 'href="datasets/phantom-brain.html"' in index
    assert (site / "datasets" / "phantom-brain.html").exists() and (site / MARKER).exists()


def test_dataset_page_has_one_sortable_table_per_comparable_group(site: Path) -> None:
    html = (site / "datasets" / "phantom-brain.html").read_text()
    # One group per budget; each ranks two model configurations with two seeds.
    assert html.count('<table class="sortable">') == 2
    assert "budget steps=1" in html and "budget steps=3" in html
    assert html.count("n=2") == 4 and "±" in html


def test_reported_numbers_are_a_separate_labelled_table(site: Path) -> None:
    html = (site / "datasets" / "phantom-brain.html").read_text()
    reported_at = html.index('id="reported"')
    assert "Reported in papers" in html and "not measured here" in html
    assert "99.50" in html[reported_at:] and "99.50" not in html[:reported_at]
    assert 'class="sortable reported"' in html


def test_tables_name_directions_by_modality_and_list_only_changed_arguments(
    site: Path, measured: Path
) -> None:
    html = (site / "datasets" / "phantom-brain.html").read_text()
    assert "MR → CT (a2b)" in html
    # Every run is at its model's defaults: the dataset page says so (without a precision:
    # identity and intensity-lookup learn nothing); the run page lists them.
    assert '<td class="args">defaults</td>' in html and "batch_size=" not in html
    identity = next(
        r
        for r in read_leaderboard(
            leaderboard_path(measured / "leaderboards", "phantom-brain")
        ).to_pylist()
        if r["model"] == "identity"
    )
    run_page = (site / "runs" / f"{identity['run_id']}.html").read_text()
    assert "batch_size=8" in run_page and "MR → CT (a2b)" in run_page


def test_a_metric_against_budget_chart_is_drawn_for_several_budgets(site: Path) -> None:
    html = (site / "datasets" / "phantom-brain.html").read_text()
    budget = html.split("<h2>Metrics against budget</h2>", 1)[1].split("</section>", 1)[0]
    # psnr and mae, per slice and per patient (eval_unit "volume")
    assert budget.count('<svg class="chart"') == 4
    assert "against budget" in budget and "<polyline" in budget


def test_every_run_has_a_page_with_its_thumbnail(site: Path, measured: Path) -> None:
    for run_id in _run_ids(measured):
        html = (site / "runs" / f"{run_id}.html").read_text()
        (src,) = re.findall(r'<img src="([^"]+)"', html)
        with Image.open(site / "runs" / src) as image:
            assert max(image.size) <= THUMBNAIL_PX
        assert "Provenance" in html and "Reproduce this row" in html


def test_every_reproduce_command_is_checked_against_its_run_id(site: Path, measured: Path) -> None:
    for run_id in _run_ids(measured):
        html = (site / "runs" / f"{run_id}.html").read_text()
        assert f"this command gives run id {run_id}" in html


@pytest.mark.slow
def test_running_a_reproduce_command_gives_the_same_run_id(
    site: Path, measured: Path, tmp_path: Path
) -> None:
    run_id = _run_ids(measured)[0]
    html = (site / "runs" / f"{run_id}.html").read_text()
    command = re.search(r'<pre class="reproduce"><code>([^<]+)</code>', html).group(1)
    words = shlex.split(command.replace("&#x27;", "'").replace("&quot;", '"'))
    assert words[:2] == ["medganbench", "run"]
    proc = subprocess.run(
        [sys.executable, "-m", "medganbench", *words[1:], "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    table = read_leaderboard(leaderboard_path(tmp_path / DEFAULT_BOARDS, "phantom-brain"))
    assert set(table.column("run_id").to_pylist()) == {run_id}


def test_the_site_makes_no_network_request(site: Path) -> None:
    for path in site.rglob("*"):
        if path.suffix in {".html", ".css", ".js"}:
            text = path.read_text()
            urls = set(re.findall(r"https?://[^\s\"'<>)]+", text)) - {"http://www.w3.org/2000/svg"}
            assert not urls, f"{path.name} refers to {urls}"


def test_thumbnails_keep_the_site_small(site: Path) -> None:
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    assert total < 2 * 2**20


def test_publishing_again_replaces_an_earlier_site(
    site: Path, measured: Path, tmp_path: Path
) -> None:
    out = tmp_path / "again"
    board = leaderboard_path(measured / "leaderboards", "phantom-brain")
    publish_site([board], out, runs_dir=measured / "runs")
    (out / "stale.html").write_text("old")
    publish_site([board], out, runs_dir=measured / "runs")
    assert not (out / "stale.html").exists() and (out / "index.html").exists()


def test_a_directory_that_is_not_a_site_is_never_replaced(measured: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a medganbench site"):
        publish_site([leaderboard_path(measured / "leaderboards", "phantom-brain")], tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_cli_publish_writes_the_site(measured: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "medganbench",
            "leaderboard",
            "publish",
            "--out",
            str(tmp_path / "s"),
            "--leaderboard-dir",
            str(measured / "leaderboards"),
            "--runs-dir",
            str(measured / "runs"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "8 run page(s)" in proc.stdout and (tmp_path / "s" / "index.html").exists()


def test_hub_upload_without_credentials_is_one_clear_error(
    site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored token either
    with pytest.raises(PublishError, match="No Hugging Face credentials"):
        upload_to_hub("org/name", site, [])


def test_hub_upload_without_network_is_one_clear_error(
    site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(PublishError, match="Uploading to the Hub dataset org/name failed"):
        upload_to_hub("org/name", site, [])


@pytest.mark.slow
def test_cli_hub_failure_exits_1_without_traceback(measured: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_TOKEN": "hf_not_a_real_token",
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "medganbench",
            "leaderboard",
            "publish",
            "--to-hub",
            "org/name",
            "--leaderboard-dir",
            str(measured / "leaderboards"),
            "--runs-dir",
            str(measured / "runs"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 1
    assert (
        "Uploading to the Hub dataset org/name failed" in proc.stderr
        and "Traceback" not in proc.stderr
    )


# ------------------------------------------------------------------------------ in a browser


@pytest.mark.slow
@pytest.mark.skipif(browser_paths() is None, reason=NO_BROWSER)
def test_site_works_in_a_headless_browser(site: Path, measured: Path) -> None:
    from selenium.webdriver.common.by import By

    browser = headless_chrome()
    try:
        browser.get((site / "index.html").as_uri())
        assert browser.title.startswith("Leaderboards")
        browser.find_element(By.LINK_TEXT, "phantom-brain").click()
        assert "phantom-brain leaderboard" in browser.title

        table = browser.find_elements(By.CSS_SELECTOR, "table.sortable")[0]
        headers = table.find_elements(By.CSS_SELECTOR, "thead th")
        psnr = next(h for h in headers if h.text.startswith("psnr"))
        column = headers.index(psnr)

        def column_values() -> list[float]:
            cells = table.find_elements(By.CSS_SELECTOR, f"tbody tr td:nth-child({column + 1})")
            return [float(c.get_attribute("data-value")) for c in cells]

        psnr.click()
        assert psnr.get_attribute("aria-sort") == "ascending"
        assert column_values() == sorted(column_values())
        psnr.click()
        assert psnr.get_attribute("aria-sort") == "descending"
        assert column_values() == sorted(column_values(), reverse=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "site-dataset-page.png"))
        # The dataset page fits a 1366 px laptop screen: neither the page nor a table scrolls
        # sideways.
        page_width, window_width, table_overflow = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth,"
            " Array.from(document.querySelectorAll('.table-wrap'))"
            ".map(e => e.scrollWidth - e.clientWidth)]"
        )
        assert window_width <= 1366 and page_width <= window_width
        assert table_overflow and max(table_overflow) <= 0, table_overflow
        # Every run link is on the screen (issue 31: the run-id column fell off it).
        link_edges = browser.execute_script(
            "return Array.from(document.querySelectorAll('table.sortable td.runs a'))"
            ".map(a => [a.getBoundingClientRect().left, a.getBoundingClientRect().right])"
        )
        assert len(link_edges) == 8  # 2 budgets x 2 models x 2 seeds
        assert all(left >= 0 and right <= window_width for left, right in link_edges), link_edges

        run_id = _run_ids(measured)[0]
        browser.get((site / "runs" / f"{run_id}.html").as_uri())
        image = browser.find_element(By.CSS_SELECTOR, "figure img")
        assert (
            browser.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth", image
            )
            > 0
        )
        browser.save_screenshot(str(ARTIFACTS / "site-run-page.png"))

        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
    finally:
        browser.quit()
    assert (ARTIFACTS / "site-dataset-page.png").stat().st_size > 0


def test_run_page_shows_each_patients_value(site: Path, measured: Path) -> None:
    run_id = next(iter(_run_ids(measured)))
    html = (site / "runs" / f"{run_id}.html").read_text()
    assert "<h2>Per patient</h2>" in html and "eval_unit=volume" in html
    assert "test-000" in html and "test-001" in html  # the phantom's test subjects
