"""The reader's page in headless Chromium, opened from disk: a scripted reader completes a study
with the keyboard (one trial with the mouse), reloads half-way, and downloads answers that the
scorer's reader accepts; the page never holds the key."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from medganbench.study.create import create_study
from medganbench.study.formats import (
    Answer,
    ReaderAnswers,
    StudyKey,
    read_answers,
    read_manifest,
)
from tests.site.browser import NO_BROWSER, browser_paths, headless_chrome
from tests.study.conftest import MODELS, StudyRuns

pytestmark = pytest.mark.slow  # a browser, and a study built from runs

READER = "Dr. Ada Lovelace"
RELOAD_AFTER = 3  # trials answered before the scripted reader reloads the page


@dataclass(frozen=True)
class Study:
    reader: Path  # reader/ of the study
    key: StudyKey

    @property
    def page(self) -> str:
        return (self.reader / "index.html").as_uri()


@dataclass(frozen=True)
class Session:
    """What the scripted reader saw and got."""

    progress: list[str]  # the progress line at each trial, as first shown
    resumed: str  # the progress line right after the reload
    start_shown_after_reload: bool
    answers: Path  # the downloaded file
    sources: list[str]  # the page's DOM at the start, mid-way and at the end
    console: list[dict[str, Any]]


def _wait(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _study(runs: StudyRuns, out: Path, root: Path, **options: Any) -> Study:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDGANBENCH_HOME", str(root / "home"))
        patch.setenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
        key = create_study(runs.runs, 4, out, **options)
    return Study(out / "reader", key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if browser_paths() is None:
        pytest.skip(NO_BROWSER)
    driver = headless_chrome()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def study(study_runs: StudyRuns, tmp_path_factory: pytest.TempPathFactory) -> Study:
    """Two runs, four trials each: eight trials."""
    out = tmp_path_factory.mktemp("reader_study") / "study"
    return _study(study_runs, out, tmp_path_factory.getbasetemp(), seed=3)


def _by_id(driver: Any, element: str) -> Any:
    return driver.find_element("id", element)


def _open(driver: Any, page: str) -> None:
    """Open ``page`` with nothing stored from an earlier visit."""
    driver.get(page)
    driver.execute_script("window.localStorage.clear()")
    driver.refresh()


def _progress(driver: Any) -> str:
    return str(_by_id(driver, "progress-text").text)


def _shows(driver: Any, line: str) -> bool:
    return _progress(driver) == line


def _image_shown(driver: Any) -> bool:
    return bool(
        driver.execute_script(
            "const i = document.getElementById('image');"
            "return i.complete && i.naturalWidth > 0 && i.style.visibility === 'visible';"
        )
    )


def _keys(driver: Any, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def _start(driver: Any, name: str) -> None:
    from selenium.webdriver.common.keys import Keys

    _by_id(driver, "reader").send_keys(name, Keys.ENTER)
    _wait(lambda: _progress(driver) == "Trial 1 of 8" and _image_shown(driver), "trial 1")


def _stored(driver: Any, study: Study) -> dict[str, Any]:
    raw = driver.execute_script(
        f"return window.localStorage.getItem('medganbench-study-{study.key.study_sha256}')"
    )
    return dict(json.loads(raw))


@pytest.fixture(scope="module")
def session(browser: Any, study: Study, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """A reader answers every trial "real" with confidence 3: by keyboard, except the second
    trial by mouse; after the third trial the page is reloaded."""
    from selenium.webdriver.common.keys import Keys

    downloads = tmp_path_factory.mktemp("downloads")
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    _open(browser, study.page)
    sources = [browser.page_source]
    _start(browser, READER)
    progress, resumed, start_after = [], "", False
    for k in range(8):
        line = f"Trial {k + 1} of 8"
        _wait(partial(_shows, browser, line), line)
        progress.append(_progress(browser))
        _wait(lambda: _image_shown(browser), f"trial {k + 1}'s image")
        if k == 1:  # by mouse
            _by_id(browser, "answer-real").click()
            browser.find_element("css selector", "#confidence-levels [data-level='3']").click()
            _by_id(browser, "next").click()
        else:
            _keys(browser, "r", "3", Keys.ENTER)
        if k + 1 == RELOAD_AFTER:
            _wait(lambda: _progress(browser) == f"Trial {RELOAD_AFTER + 1} of 8", "the answer")
            browser.refresh()
            _wait(lambda: _progress(browser), "the page after the reload")
            resumed = _progress(browser)
            start_after = _by_id(browser, "start").is_displayed()
        if k == 4:
            sources.append(browser.page_source)
    _wait(lambda: _by_id(browser, "done").is_displayed(), "the end")
    _by_id(browser, "download").click()
    name = _by_id(browser, "file-name").text
    target = downloads / name
    _wait(lambda: target.is_file() and target.stat().st_size > 0, f"the download of {name}")
    sources.append(browser.page_source)
    return Session(progress, resumed, start_after, target, sources, browser.get_log("browser"))


def test_the_downloaded_answers_are_the_readers_signed_for_the_study(
    session: Session, study: Study
) -> None:
    manifest = read_manifest(study.reader / "study.json")
    answers = read_answers(session.answers, manifest, study.key.study_sha256)
    raw = json.loads(session.answers.read_text())
    expected = ReaderAnswers(
        study.key.study_sha256,
        READER,
        tuple(
            Answer(trial, "real", 3, None, entry["ms"])
            for trial, entry in zip(manifest.trials, raw["answers"], strict=True)
        ),
    )
    assert answers == expected and raw == expected.to_json()
    assert all(isinstance(a.milliseconds, int) and a.milliseconds >= 0 for a in answers.answers)


def test_the_answers_file_is_named_after_the_reader_and_the_study(
    session: Session, study: Study
) -> None:
    assert session.answers.name == f"answers-Dr_Ada_Lovelace-{study.key.study_sha256[:12]}.json"


def test_progress_advances_one_trial_per_answer(session: Session) -> None:
    assert session.progress == [f"Trial {k} of 8" for k in range(1, 9)]


def test_a_reload_resumes_at_the_next_trial(session: Session) -> None:
    assert session.resumed == f"Trial {RELOAD_AFTER + 1} of 8"
    assert not session.start_shown_after_reload


def test_the_page_never_holds_the_key(session: Session, study: Study) -> None:
    secrets = [*study.key.runs, *MODELS, '"truth"', '"block"', '"item"', "key.json"]
    for source in session.sources:
        assert not [s for s in secrets if s in source]


def test_the_page_logs_no_error(session: Session) -> None:
    assert [e for e in session.console if e["level"] == "SEVERE"] == []


def test_next_waits_for_a_confidence(browser: Any, study: Study) -> None:
    from selenium.webdriver.common.keys import Keys

    _open(browser, study.page)
    _start(browser, "R2")
    _keys(browser, "s", Keys.ENTER)
    assert _progress(browser) == "Trial 1 of 8"
    assert "confidence" in _by_id(browser, "hint").text
    _keys(browser, "5", Keys.ENTER)
    _wait(lambda: _progress(browser) == "Trial 2 of 8", "trial 2")
    assert _stored(browser, study)["answers"][0]["answer"] == "synthetic"


def test_a_quality_study_takes_quality_by_shift_digit_or_q_digit(
    browser: Any, study_runs: StudyRuns, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    out = tmp_path_factory.mktemp("quality_study") / "study"
    quality = _study(study_runs, out, tmp_path_factory.getbasetemp(), quality=True)
    _open(browser, quality.page)
    _start(browser, "R3")
    _keys(browser, "r", "3", Keys.ENTER)
    assert _progress(browser) == "Trial 1 of 8"  # no quality yet
    ActionChains(browser).key_down(Keys.SHIFT).send_keys("4").key_up(Keys.SHIFT).perform()
    _keys(browser, Keys.ENTER)
    _wait(lambda: _progress(browser) == "Trial 2 of 8" and _image_shown(browser), "trial 2")
    _keys(browser, "s", "2", "q", "5", Keys.ENTER)
    _wait(lambda: _progress(browser) == "Trial 3 of 8", "trial 3")
    answers = _stored(browser, quality)["answers"]
    assert [(a["answer"], a["confidence"], a["quality"]) for a in answers] == [
        ("real", 3, 4),
        ("synthetic", 2, 5),
    ]


def test_study_score_records_the_browser_readers_answers_on_the_reader_study_track(
    session: Session, study: Study, study_runs: StudyRuns, tmp_path: Path
) -> None:
    """The done-when of issue 37: the study built from two runs, answered in the browser by the
    scripted reader (always "real"), and by a second reader who is always right (written here
    from the key), scored by ``medganbench study score``: rows with accuracy, AUC and kappa."""
    import shutil

    from click.testing import CliRunner

    from medganbench.cli import main
    from medganbench.leaderboard.store import read_leaderboard

    perfect = tmp_path / "perfect.json"
    manifest = read_manifest(study.reader / "study.json")
    perfect.write_text(
        json.dumps(
            ReaderAnswers(
                study.key.study_sha256,
                "reader two",
                tuple(Answer(t, study.key.trials[t].truth, 5) for t in manifest.trials),
            ).to_json()
        )
    )
    boards = tmp_path / "leaderboards"
    shutil.copytree(study_runs.root / "leaderboards", boards)
    result = CliRunner().invoke(
        main,
        [
            "study",
            "score",
            str(study.reader.parent),
            str(session.answers),
            str(perfect),
            "--leaderboard-dir",
            str(boards),
        ],
    )
    assert result.exit_code == 0, result.output
    (board,) = boards.glob("*.arrow")
    rows = [r for r in read_leaderboard(board).to_pylist() if r["track"] == "reader-study"]
    by = {(r["metric"], r["model"]): r for r in rows}
    assert {m for m, _ in by} == {
        "reader-accuracy",
        "reader-sensitivity",
        "reader-specificity",
        "reader-auc",
        "reader-kappa",
    }
    assert {model for _, model in by} == set(MODELS)
    for model in MODELS:
        accuracy = by["reader-accuracy", model]
        details = json.loads(accuracy["metric_details"])
        assert (details["readers"], details["trials"]) == (2, 4)
        # The always-"real" reader scores chance in a balanced block; the other, 1.
        assert details["per_reader"][READER]["value"] == 0.5
        assert details["per_reader"]["reader two"]["value"] == 1.0
        assert accuracy["value"] == 0.75
        assert by["reader-auc", model]["value"] == 0.75
        assert -1.0 <= by["reader-kappa", model]["value"] <= 1.0
    before = board.read_bytes()
    again = CliRunner().invoke(
        main,
        [
            "study",
            "score",
            str(study.reader.parent),
            str(perfect),
            "--leaderboard-dir",
            str(boards),
        ],
    )
    # A study is recorded once: scoring it again is refused, the board left as it was.
    assert again.exit_code == 2 and "already on" in again.output
    assert board.read_bytes() == before
