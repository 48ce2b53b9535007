"""Recorded runs for the reader-study tests, made once per session: two cheap non-learned
translators (``identity`` and ``intensity-lookup``, one training step each) on a small phantom
whose test split holds 16 slices, and one ``identity`` run on other dataset arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from medganbench import api

#: Two test subjects of eight slices: 16 evaluation items.
SMALL: dict[str, Any] = {
    "train_subjects": 2,
    "val_subjects": 2,
    "test_subjects": 2,
    "slices_per_subject": 8,
}
TEST_ITEMS = 16
MODELS = ("identity", "intensity-lookup")


@dataclass(frozen=True)
class StudyRuns:
    """Run folders: ``runs`` (one per model of :data:`MODELS`, on :data:`SMALL`), ``elsewhere``
    (``identity`` on other dataset arguments), and the folder they were written under."""

    runs: tuple[Path, ...]
    elsewhere: Path
    root: Path


def _run(model: str, dataset_args: Mapping[str, Any], root: Path) -> Path:
    return api.run(
        model,
        budget="steps=1",
        image_size=32,
        metrics=("mae",),
        dataset_args=dataset_args,
        leaderboard_dir=root / "leaderboards",
        runs_dir=root / "runs",
        device="cpu",
    ).run_dir


@pytest.fixture(scope="session")
def study_runs(tmp_path_factory: pytest.TempPathFactory) -> StudyRuns:
    root = tmp_path_factory.mktemp("study_runs")
    with pytest.MonkeyPatch.context() as patch:
        # As the autouse fixture sets them for each test: the same phantom cache.
        patch.setenv("MEDGANBENCH_HOME", str(tmp_path_factory.getbasetemp() / "home"))
        patch.setenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
        runs = tuple(_run(model, SMALL, root) for model in MODELS)
        elsewhere = _run("identity", {**SMALL, "slices_per_subject": 6}, root)
    return StudyRuns(runs, elsewhere, root)
