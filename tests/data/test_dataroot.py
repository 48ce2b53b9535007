"""Where downloadable datasets are looked for, and the message when they are not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from medganbench.core.dataset import DatasetContext
from medganbench.data.dataroot import env_var, find_root, locate_root
from medganbench.errors import DataError


def _has_marker(path: Path) -> bool:
    return (path / "marker").is_file()


def _tree(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "marker").write_text("x")
    return path


def test_env_var_name() -> None:
    assert env_var("kaggle-brain") == "MEDGANBENCH_DATA_KAGGLE_BRAIN"


def test_data_dir_wins_over_env_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given, env, cache = (
        _tree(tmp_path / "given"),
        _tree(tmp_path / "env"),
        _tree(tmp_path / "cache"),
    )
    monkeypatch.setenv("MEDGANBENCH_DATA_DEMO", str(env))
    assert locate_root("demo", DatasetContext(32, cache, given), _has_marker) == given
    assert locate_root("demo", DatasetContext(32, cache), _has_marker) == env
    monkeypatch.delenv("MEDGANBENCH_DATA_DEMO")
    assert locate_root("demo", DatasetContext(32, cache), _has_marker) == cache


def test_a_folder_without_the_layout_is_not_taken(tmp_path: Path) -> None:
    (tmp_path / "given").mkdir()
    cache = _tree(tmp_path / "cache")
    assert locate_root("demo", DatasetContext(32, cache, tmp_path / "given"), _has_marker) == cache


def test_missing_root_lists_each_place_and_the_instructions(tmp_path: Path) -> None:
    (tmp_path / "given").mkdir()
    ctx = DatasetContext(32, tmp_path / "cache", tmp_path / "given")
    with pytest.raises(DataError) as info:
        find_root("demo", ctx, _has_marker, "Run: fetch-demo --to DIR")
    message, hint = info.value.message, info.value.hint or ""
    assert "--data-dir" in message and "not the expected layout" in message
    assert "cache" in message and "no such directory" in message
    assert hint.startswith("Run: fetch-demo --to DIR") and "MEDGANBENCH_DATA_DEMO" in hint


def test_an_explicit_root_argument_is_the_only_candidate(tmp_path: Path) -> None:
    cache = _tree(tmp_path / "cache")
    ctx = DatasetContext(32, cache, None)
    assert locate_root("demo", ctx, _has_marker, explicit=str(tmp_path / "elsewhere")) is None
    with pytest.raises(DataError, match="--dataset-arg root"):
        find_root("demo", ctx, _has_marker, "get it", explicit=str(tmp_path / "elsewhere"))
