"""Curves and charts on a published site, as files and in a headless browser at 1366 × 768: a run
page's losses and validation values with the scored checkpoint marked, a group's chart above a
table whose run links stay on screen, and runs whose history is missing or unreadable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medganbench.run.history import HISTORY_NAME
from medganbench.site import publish_site
from tests.leaderboard.rows import rid
from tests.site.browser import NO_BROWSER, browser_paths, headless_chrome
from tests.site.histories import PROTOCOL

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MEDGANBENCH_TEST_ARTIFACTS", ROOT / "test-artifacts"))
#: A run with a history (selected at step 200), one whose file is garbage, one without a file.
WITH_HISTORY, GARBAGE, WITHOUT = rid("pix2pix-1"), rid("identity-0"), rid("identity-1")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.site.histories import write_inputs

    work = tmp_path_factory.mktemp("curves")
    board, runs = write_inputs(work)
    (runs / GARBAGE / HISTORY_NAME).write_bytes(b"not an arrow file")
    publish_site([board], work / "site", runs_dir=runs, generated="test")
    return work / "site"


def _run_page(site: Path, run_id: str) -> str:
    return (site / "runs" / f"{run_id}.html").read_text("utf-8")


def test_a_run_with_a_history_gets_a_training_section(site: Path) -> None:
    html = _run_page(site, WITH_HISTORY)
    assert "<h2>Training</h2>" in html and html.count('<svg class="chart curves"') == 3


def test_an_unreadable_history_is_said_on_its_page_and_publishing_goes_on(site: Path) -> None:
    assert "History unreadable" in _run_page(site, GARBAGE)
    assert "History unreadable" not in _run_page(site, WITH_HISTORY)


def test_a_run_recorded_before_histories_has_no_training_section(site: Path) -> None:
    assert "<h2>Training</h2>" not in _run_page(site, WITHOUT)


def test_the_dataset_page_has_the_groups_chart_and_its_validation_overlay(site: Path) -> None:
    html = (site / "datasets" / "phantom-brain.html").read_text("utf-8")
    assert html.count('<figure class="dots">') == 1
    assert html.count('<svg class="chart dots"') == 8  # one panel per metric column
    assert '<details class="overlay"><summary>Validation metrics against step (6 run(s)' in html


# ------------------------------------------------------------------------------ in a browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if browser_paths() is None:
        pytest.skip(NO_BROWSER)
    driver = headless_chrome()  # 1366 x 768
    yield driver
    driver.quit()


def _shown(browser: Any, element: Any) -> bool:
    """Displayed, with an area on the page."""
    rect = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", element)
    return bool(element.is_displayed() and rect["width"] > 0 and rect["height"] > 0)


@pytest.mark.slow
def test_the_run_page_shows_the_loss_and_validation_curves_and_the_selected_step(
    site: Path, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.get((site / "runs" / f"{WITH_HISTORY}.html").as_uri())
    charts = {
        c.find_element(By.TAG_NAME, "title").get_attribute("textContent"): c
        for c in browser.find_elements(By.CSS_SELECTOR, "section.training svg.chart.curves")
    }
    losses = charts["Training losses against step"]
    psnr = charts["Validation psnr against step — a2b"]
    assert _shown(browser, losses) and _shown(browser, psnr)
    assert len(losses.find_elements(By.TAG_NAME, "polyline")) == 2
    mark = psnr.find_element(By.CSS_SELECTOR, "g.mark.selected")
    assert _shown(browser, mark) and mark.get_attribute("data-step") == "200"
    assert mark.find_element(By.TAG_NAME, "text").text == f"selected ({PROTOCOL})"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView()", losses)
    browser.save_screenshot(str(ARTIFACTS / "site-run-curves.png"))
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")] == []


@pytest.mark.slow
def test_the_dataset_page_keeps_every_run_link_on_a_1366_px_screen(
    site: Path, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.get((site / "datasets" / "phantom-brain.html").as_uri())
    width = browser.execute_script("return window.innerWidth")
    assert (
        width <= 1366
        and browser.execute_script("return document.documentElement.scrollWidth") <= width
    )
    links = browser.find_elements(By.CSS_SELECTOR, "table.sortable td.runs a")
    assert len(links) == 9
    for link in links:
        rect = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", link)
        assert rect["left"] >= 0 and rect["right"] <= width, (link.text, rect)
    chart = browser.find_element(By.CSS_SELECTOR, "figure.dots")
    table = browser.find_element(By.CSS_SELECTOR, "table.sortable")
    assert _shown(browser, chart) and chart.rect["y"] < table.rect["y"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "site-group-chart.png"))


@pytest.mark.slow
def test_the_groups_validation_overlay_opens_on_click(site: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get((site / "datasets" / "phantom-brain.html").as_uri())
    overlay = browser.find_element(By.CSS_SELECTOR, "details.overlay")
    chart = overlay.find_element(By.CSS_SELECTOR, "svg.chart.curves")
    assert not chart.is_displayed()  # collapsed by default
    overlay.find_element(By.TAG_NAME, "summary").click()
    assert _shown(browser, chart)
    assert len(chart.find_elements(By.TAG_NAME, "polyline")) == 6


@pytest.mark.slow
def test_a_real_best_checkpoint_run_shows_both_curves_with_its_selected_step(
    tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> None:
    """The issue's case end to end: a run trained here with ``--eval-every`` and ``--select
    best:psnr``, published, and its page opened in the browser."""
    from selenium.webdriver.common.by import By

    from medganbench.core.manager import build_registries, make_plugin_manager
    from medganbench.run.budget import Budget
    from medganbench.run.options import RunOptions
    from medganbench.run.runner import execute_run
    from medganbench.run.spec import RunSpec

    work = tmp_path_factory.mktemp("real")
    result = execute_run(
        RunSpec(
            model="pix2pix",
            model_args={"ngf": "8", "ndf": "8"},
            dataset_args={"train_subjects": "3", "val_subjects": "2", "test_subjects": "2"},
            image_size=32,
            metrics=("psnr", "mae"),
            budget=Budget(steps=6),
            select="best:psnr",
            eval_every=2,
        ),
        build_registries(make_plugin_manager(autoload=False)),
        RunOptions(
            leaderboard_dir=work / "boards",
            runs_dir=work / "runs",
            progress=False,
            log_every=1,
        ),
    )
    row = result.rows[0]
    publish_site([result.leaderboard], work / "site", runs_dir=work / "runs", generated="test")
    browser.get((work / "site" / "runs" / f"{result.run_id}.html").as_uri())
    titles = [
        c.find_element(By.TAG_NAME, "title").get_attribute("textContent")
        for c in browser.find_elements(By.CSS_SELECTOR, "section.training svg.chart.curves")
    ]
    assert "Training losses against step" in titles
    assert "Validation psnr against step — a2b" in titles
    psnr = browser.find_elements(By.CSS_SELECTOR, "section.training svg.chart.curves")[
        titles.index("Validation psnr against step — a2b")
    ]
    mark = psnr.find_element(By.CSS_SELECTOR, "g.mark.selected")
    assert _shown(browser, mark) and mark.get_attribute("data-step") == str(row.selected_step)
    assert mark.find_element(By.TAG_NAME, "text").text == "selected (best:psnr@val)"
