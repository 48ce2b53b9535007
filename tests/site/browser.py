"""The headless browser the site tests drive: Debian's chromium and chromedriver
(scripts/install-test-browser.sh installs them)."""

from __future__ import annotations

import shutil
from typing import Any

#: Why a browser test is skipped where no browser is installed.
NO_BROWSER = "no chromium + chromedriver (scripts/install-test-browser.sh installs them)"


def browser_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) if both are installed, else ``None``."""
    chromium = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def headless_chrome() -> Any:
    """A headless chromium at a 1366 x 768 laptop size that keeps the console log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = browser_paths()
    assert paths is not None, NO_BROWSER
    chromium, driver_path = paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1366,768",  # a laptop screen
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)
