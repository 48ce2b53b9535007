"""The committed site, ``docs/leaderboard/`` (built by ``leaderboard publish`` from the committed
``leaderboards/``), opens from disk with every link and image working, and shows every run of
the committed leaderboards."""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from medganbench.leaderboard.store import read_leaderboard
from tests.site.browser import NO_BROWSER, browser_paths, headless_chrome

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "docs" / "leaderboard"
BOARDS = ROOT / "leaderboards"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.targets.append(value)


def _local_targets(page: Path) -> list[Path]:
    parser = _Links()
    parser.feed(page.read_text("utf-8"))
    out = []
    for target in parser.targets:
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:  # data:, https:, #anchor
            continue
        out.append((page.parent / unquote(parts.path)).resolve())
    return out


def _pages() -> list[Path]:
    return sorted(SITE.rglob("*.html"))


def test_every_local_link_and_image_of_the_committed_site_exists() -> None:
    pages = _pages()
    assert (SITE / "index.html") in pages
    broken = [
        f"{page.relative_to(SITE)} → {target}"
        for page in pages
        for target in _local_targets(page)
        if not target.is_file() or SITE.resolve() not in target.parents
    ]
    assert broken == []


def test_the_committed_site_has_a_page_for_every_committed_run() -> None:
    boards = sorted(BOARDS.glob("*.arrow"))
    assert boards, "no committed leaderboard"
    run_ids = {r for b in boards for r in read_leaderboard(b).column("run_id").to_pylist()}
    pages = {p.stem for p in (SITE / "runs").glob("*.html")}
    assert run_ids <= pages, sorted(run_ids - pages)
    # Nothing of the machine it was built on leaks into the pages.
    for page in _pages():
        assert not re.search(r"/(work|tmp|home|root)/", page.read_text("utf-8")), page


@pytest.mark.slow
@pytest.mark.skipif(browser_paths() is None, reason=NO_BROWSER)
def test_every_page_of_the_committed_site_opens_from_disk_in_a_browser() -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = headless_chrome()
    try:
        for page in _pages():
            browser.get(page.as_uri())
            assert browser.title, page
            for image in browser.find_elements(By.CSS_SELECTOR, "img"):
                # Lazy images may still be loading on a busy machine: wait for them (10 s).
                with contextlib.suppress(TimeoutException):
                    WebDriverWait(browser, 10).until(
                        lambda b, i=image: b.execute_script("return arguments[0].complete", i)
                    )
                loaded = browser.execute_script(
                    "return arguments[0].complete && arguments[0].naturalWidth", image
                )
                assert loaded and loaded > 0, (page, image.get_attribute("src"))
            errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
            assert errors == [], (page, errors)
    finally:
        browser.quit()


def test_the_committed_site_names_the_unconditional_direction_noise_to_ct() -> None:
    page = (SITE / "datasets" / "phantom-brain.html").read_text("utf-8")
    assert "split test · noise → CT · data 2444cc8c" in page
    assert "CT → CT" not in page


def test_a_committed_cycle_run_page_shows_its_own_direction_first_and_each_convention_once() -> (
    None
):
    page = (SITE / "runs" / "1483c0906734048f.html").read_text("utf-8")  # hlsnc, seed 2
    grids = re.findall(r'<img src="1483c0906734048f/([^"]+)"', page)
    assert grids[0] == "samples.png" and len(grids) == 4
    assert "MR → CT (a2b): inputs" in page.split("<figcaption>")[1]
    # psnr's per-slice convention is the start of its per-patient one: one line each.
    assert page.count("per image 10*log10((hi-lo)^2/MSE) in dB") == 2


@pytest.mark.slow
@pytest.mark.skipif(browser_paths() is None, reason=NO_BROWSER)
def test_every_committed_dataset_page_fits_a_1366_px_screen() -> None:
    browser = headless_chrome()  # 1366 x 768
    try:
        for page in sorted((SITE / "datasets").glob("*.html")):
            browser.get(page.as_uri())
            page_width, window_width, table_overflow = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth,"
                " Array.from(document.querySelectorAll('.table-wrap'))"
                ".map(e => e.scrollWidth - e.clientWidth)]"
            )
            assert window_width <= 1366 and page_width <= window_width, page.name
            # Neither the page nor any table scrolls sideways.
            assert all(overflow <= 0 for overflow in table_overflow), (page.name, table_overflow)
    finally:
        browser.quit()
