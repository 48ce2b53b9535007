"""Opening a run's trackers and calling them as one: names, missing packages, and failures that
must not cost the run anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medganbench.core.history import HistoryRecord
from medganbench.core.hookspecs import hookimpl
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.core.params import Param
from medganbench.core.specs import TrackerSpec
from medganbench.core.tracker import Tracker, TrackerContext
from medganbench.errors import PluginError, UnknownNameError, UsageError
from medganbench.run.trackers import TrackerSet, open_trackers

RECORDS = (
    HistoryRecord(1, 0.004, 0.5, "loss", "", "G_gan", 0.75),
    HistoryRecord(2, 0.008, 1.0, "val", "a2b", "psnr", 21.5),
)
GRID = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)


class Recording(Tracker):
    """Keeps every call, in order, in ``CALLS`` (shared by the trackers of one test)."""

    CALLS: list[tuple[Any, ...]] = []

    def __init__(self, args: Mapping[str, Any], ctx: TrackerContext) -> None:
        super().__init__(args, ctx)
        self.name = str(args["label"])
        self.CALLS.append((self.name, "open", ctx.resumed_from_step))

    def log_records(self, records: Sequence[HistoryRecord]) -> None:
        self.CALLS.append((self.name, "records", tuple(records)))

    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        self.CALLS.append((self.name, "image", tag, step, image.copy()))

    def close(self) -> None:
        self.CALLS.append((self.name, "close"))


class FailsToLog(Recording):
    def log_records(self, records: Sequence[HistoryRecord]) -> None:
        raise OSError("disk full")

    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        raise OSError("disk full")


class FailsToClose(Recording):
    def close(self) -> None:
        raise ConnectionError("server went away")


class ScribblesOnImages(Recording):
    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        image[...] = 0  # not allowed: the set hands over a read-only copy


class CannotOpen(Recording):
    def __init__(self, args: Mapping[str, Any], ctx: TrackerContext) -> None:
        raise RuntimeError("no such store")


def _spec(name: str, factory: type[Tracker], **extra: Any) -> TrackerSpec:
    return TrackerSpec(
        name,
        "test tracker",
        "1",
        factory,
        params=(Param("label", name, "its name in CALLS"),),
        **extra,
    )


class _Plugin:
    @hookimpl
    def medganbench_trackers(self) -> list[TrackerSpec]:
        return [
            _spec("recording", Recording),
            _spec("second", Recording),
            _spec("fails-to-log", FailsToLog),
            _spec("fails-to-close", FailsToClose),
            _spec("scribbles", ScribblesOnImages),
            _spec("cannot-open", CannotOpen),
            _spec(
                "needs-package",
                Recording,
                requires=("medganbench_no_such_package",),
                install="pip install 'medganbench[no-such-extra]'",
            ),
        ]


@pytest.fixture(scope="module")
def fakes() -> Registries:
    return build_registries(make_plugin_manager(autoload=False, extra=(_Plugin(),)))


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    Recording.CALLS.clear()


@pytest.fixture
def ctx(tmp_path: Path) -> TrackerContext:
    return TrackerContext("0123456789abcdef", tmp_path / "run", {"model": "identity"})


def test_the_builtin_trackers_are_registered(registries: Registries) -> None:
    assert registries.trackers.names() == ["mlflow", "tensorboard"]


def test_no_names_give_an_empty_set_that_accepts_every_call(
    fakes: Registries, ctx: TrackerContext
) -> None:
    trackers = open_trackers([], fakes, ctx)
    assert not trackers and trackers.names == ()
    trackers.log_records(RECORDS)
    trackers.log_image("samples", 2, GRID)
    trackers.close()


def test_records_and_images_reach_every_tracker_in_order(
    fakes: Registries, ctx: TrackerContext
) -> None:
    trackers = open_trackers(["recording", "second"], fakes, ctx)
    trackers.log_records(RECORDS)
    trackers.log_image("val/samples", 2, GRID)
    trackers.close()
    assert [call[:2] for call in Recording.CALLS] == [
        ("recording", "open"),
        ("second", "open"),
        ("recording", "records"),
        ("second", "records"),
        ("recording", "image"),
        ("second", "image"),
        ("recording", "close"),
        ("second", "close"),
    ]
    assert Recording.CALLS[2][2] == RECORDS
    assert np.array_equal(Recording.CALLS[4][4], GRID)


def test_an_unknown_name_suggests_the_close_one_before_anything_opens(
    fakes: Registries, ctx: TrackerContext
) -> None:
    with pytest.raises(UnknownNameError) as caught:
        open_trackers(["recording", "recordin"], fakes, ctx)
    assert "Unknown tracker 'recordin'" in caught.value.message
    assert "Did you mean 'recording'" in str(caught.value.hint)
    assert Recording.CALLS == []


def test_a_missing_package_names_the_pip_install_before_anything_opens(
    fakes: Registries, ctx: TrackerContext
) -> None:
    with pytest.raises(UsageError) as caught:
        open_trackers(["recording", "needs-package"], fakes, ctx)
    assert caught.value.message == (
        "The tracker 'needs-package' needs medganbench_no_such_package, which is not installed "
        "here: pip install 'medganbench[no-such-extra]'"
    )
    assert Recording.CALLS == []


def test_a_builtin_trackers_missing_package_names_its_extra(
    registries: Registries, ctx: TrackerContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TrackerSpec, "missing", lambda self: self.requires)
    with pytest.raises(UsageError, match=r"pip install 'medganbench\[tensorboard\]'"):
        open_trackers(["tensorboard"], registries, ctx)


def test_a_name_given_twice_opens_one_tracker(fakes: Registries, ctx: TrackerContext) -> None:
    trackers = open_trackers(["recording", "recording"], fakes, ctx)
    assert trackers.names == ("recording",)


def test_arguments_reach_the_tracker_and_a_stray_one_is_refused(
    fakes: Registries, ctx: TrackerContext
) -> None:
    open_trackers(["recording"], fakes, ctx, args={"recording": {"label": "renamed"}})
    assert Recording.CALLS == [("renamed", "open", None)]
    with pytest.raises(UsageError, match="the run does not use: second"):
        open_trackers(["recording"], fakes, ctx, args={"second": {"label": "x"}})


def test_an_undeclared_argument_is_an_unknown_name(fakes: Registries, ctx: TrackerContext) -> None:
    with pytest.raises(UnknownNameError):
        open_trackers(["recording"], fakes, ctx, args={"recording": {"lable": "x"}})


def test_a_constructor_failure_is_one_message_and_closes_those_opened(
    fakes: Registries, ctx: TrackerContext
) -> None:
    with pytest.raises(PluginError) as caught:
        open_trackers(["recording", "cannot-open"], fakes, ctx)
    assert caught.value.message == (
        "The tracker 'cannot-open' could not be opened: RuntimeError: no such store"
    )
    assert Recording.CALLS == [("recording", "open", None), ("recording", "close")]


def test_the_resume_step_reaches_the_tracker(fakes: Registries, tmp_path: Path) -> None:
    resumed = TrackerContext("0123456789abcdef", tmp_path, resumed_from_step=40)
    open_trackers(["recording"], fakes, resumed)
    assert Recording.CALLS == [("recording", "open", 40)]


def test_a_tracker_failing_to_log_is_reported_once_and_dropped(
    fakes: Registries, ctx: TrackerContext
) -> None:
    said: list[str] = []
    trackers = open_trackers(["fails-to-log", "recording"], fakes, ctx, on_status=said.append)
    trackers.log_records(RECORDS)
    trackers.log_records(RECORDS)
    trackers.log_image("val/samples", 2, GRID)
    assert trackers.names == ("recording",)
    assert said == [
        "tracker fails-to-log: log_records() failed (OSError: disk full); it gets nothing more "
        "from this run, which goes on (runs/<id>/history.arrow has every record)"
    ]
    fed = [call[1] for call in Recording.CALLS if call[0] == "recording"]
    assert fed == ["open", "records", "records", "image"]


def test_a_failed_tracker_is_still_closed(fakes: Registries, ctx: TrackerContext) -> None:
    trackers = open_trackers(["fails-to-log"], fakes, ctx)
    trackers.log_records(RECORDS)
    trackers.close()
    assert Recording.CALLS[-1] == ("fails-to-log", "close")


def test_a_failing_close_is_reported_and_the_others_still_close(
    fakes: Registries, ctx: TrackerContext
) -> None:
    said: list[str] = []
    trackers = open_trackers(["fails-to-close", "recording"], fakes, ctx, on_status=said.append)
    trackers.close()
    assert said == [
        "tracker fails-to-close: close() failed (ConnectionError: server went away); what it "
        "logged may be incomplete (runs/<id>/history.arrow has every record)"
    ]
    assert Recording.CALLS[-1] == ("recording", "close")


def test_close_closes_each_tracker_once_and_then_ignores_calls(
    fakes: Registries, ctx: TrackerContext
) -> None:
    trackers = open_trackers(["recording"], fakes, ctx)
    trackers.close()
    trackers.close()
    trackers.log_records(RECORDS)
    assert [call[1] for call in Recording.CALLS] == ["open", "close"]


def test_a_tracker_cannot_change_the_image_the_next_one_gets(
    fakes: Registries, ctx: TrackerContext
) -> None:
    said: list[str] = []
    trackers = open_trackers(["scribbles", "recording"], fakes, ctx, on_status=said.append)
    grid = GRID.copy()
    trackers.log_image("samples", 2, grid)
    assert np.array_equal(Recording.CALLS[-1][4], GRID) and np.array_equal(grid, GRID)
    assert said and "ValueError" in said[0]  # its write into the read-only copy failed


def test_an_image_that_is_not_hw3_uint8_is_the_callers_error(
    fakes: Registries, ctx: TrackerContext
) -> None:
    trackers = open_trackers(["recording"], fakes, ctx)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        trackers.log_image("samples", 2, GRID.astype(np.float32))


def test_ctrl_c_inside_a_tracker_is_not_swallowed(ctx: TrackerContext) -> None:
    class Interrupted(Recording):
        def log_records(self, records: Sequence[HistoryRecord]) -> None:
            raise KeyboardInterrupt

    trackers = TrackerSet([("interrupted", Interrupted({"label": "interrupted"}, ctx))])
    with pytest.raises(KeyboardInterrupt):
        trackers.log_records(RECORDS)
