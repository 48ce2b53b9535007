"""``--tracker mlflow``: a run's history and sample grids as one MLflow run.

One MLflow run per medganbench run, named by the run id and tagged ``medganbench.run_id``;
its parameters are the run's identity, flattened (``model_args.lr``); its metrics are the
history's series (``loss/G_gan``, ``val/a2b/psnr``) by training step; sample grids are logged
with ``log_image`` by tag and step. The store is a local file store in
``runs/<run id>/trackers/mlflow`` (``mlflow ui --backend-store-uri`` that folder), or any
tracking URI MLflow takes (the argument ``tracking_uri``: ``sqlite:///mlflow.db``, a
server's address).

**The file store.** MLflow 3 keeps its file store in maintenance mode and refuses it unless
``MLFLOW_ALLOW_FILE_STORE`` is set. Since a local store needs no server and no database, this
tracker opts in for its own calls to a ``file:`` store only, setting the variable around each
call and removing it afterwards; a value the user set is left alone (``false`` keeps the file
store refused, and the tracker says so before training).

**Resuming.** A resumed run continues the latest MLflow run with its run id. MLflow cannot
delete metric points, so the points that MLflow run already holds after the checkpoint step
(logged by the killed run, and logged again, with the same values, by the resumed one) are
skipped instead of repeated. Sample grids after the checkpoint may appear twice. A run that
starts afresh gets an MLflow run of its own.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from medganbench.core.history import HistoryRecord
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import TrackerSpec
from medganbench.core.tracker import Tracker, TrackerContext
from medganbench.errors import UsageError
from medganbench_plugins.trackers.mlflow_names import (
    METRICS_PER_BATCH,
    PARAMS_PER_BATCH,
    chunks,
    flat_params,
    safe_key,
)

#: The tag that ties an MLflow run to the medganbench run it mirrors.
RUN_ID_TAG = "medganbench.run_id"
#: MLflow's opt-in to its file store (see the module).
FILE_STORE_ENV = "MLFLOW_ALLOW_FILE_STORE"

T = TypeVar("T")


def tracking_uri(args: Mapping[str, Any], ctx: TrackerContext) -> str:
    """The tracking URI: the argument, else a file store in the run folder."""
    if args["tracking_uri"]:
        return str(args["tracking_uri"])
    return (ctx.run_dir / "trackers" / "mlflow").resolve().as_uri()


def is_file_store(uri: str) -> bool:
    """Whether ``uri`` names MLflow's file store (a ``file:`` URI or a plain path)."""
    return urlparse(uri).scheme in ("", "file")


def refused_by_user(uri: str) -> bool:
    """Whether ``uri`` is a file store and the user set :data:`FILE_STORE_ENV` to refuse it
    (MLflow reads ``true`` and ``1`` as yes)."""
    value = os.environ.get(FILE_STORE_ENV)
    return is_file_store(uri) and value is not None and value.lower() not in ("true", "1")


@contextmanager
def file_store_allowed(uri: str) -> Iterator[None]:
    """Opt in to MLflow's file store for the calls inside, if ``uri`` is one and the user has
    not set :data:`FILE_STORE_ENV` themselves."""
    if not is_file_store(uri) or FILE_STORE_ENV in os.environ:
        yield
        return
    os.environ[FILE_STORE_ENV] = "true"
    try:
        yield
    finally:
        os.environ.pop(FILE_STORE_ENV, None)


class MlflowTracker(Tracker):
    """Mirrors the run to one MLflow run through ``mlflow.tracking.MlflowClient``.

    Raises:
        UsageError: the tracking store cannot be reached or used.
    """

    def __init__(self, args: Mapping[str, Any], ctx: TrackerContext) -> None:
        super().__init__(args, ctx)
        # Imported here: only a run that asks for MLflow pays for (or needs) it.
        from mlflow.exceptions import MlflowException

        self.uri = tracking_uri(args, ctx)
        if refused_by_user(self.uri):
            raise UsageError(
                f"{FILE_STORE_ENV} is set to {os.environ[FILE_STORE_ENV]!r}, which refuses the "
                "MLflow file store this tracker writes to.",
                hint="Unset it, or give the tracker another store (its argument tracking_uri=URI: "
                "a database or a server).",
            )
        self.closed = False
        #: series key → steps the MLflow run already holds after the resume step.
        self.held: dict[str, set[int]] = {}
        try:
            self.client = self._call(self._client)
            self.run_id = self._call(self._start)
        except (MlflowException, OSError) as exc:
            raise UsageError(
                f"MLflow cannot use the tracking store {self.uri}: {' '.join(str(exc).split())}",
                hint="Give the tracker another store (its argument tracking_uri=URI).",
            ) from exc

    def _call(self, call: Callable[[], T]) -> T:
        with file_store_allowed(self.uri):
            return call()

    def _client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.uri)

    def _start(self) -> str:
        """Find or create the MLflow run; return its id."""
        experiment = self._experiment(str(self.args["experiment"]))
        resumed = self.ctx.resumed_from_step
        if resumed is not None:
            found = self.client.search_runs(
                [experiment],
                filter_string=f"tags.`{RUN_ID_TAG}` = '{self.ctx.run_id}'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            if found:
                run = found[0]
                self.client.update_run(run.info.run_id, status="RUNNING")
                self.held = self._steps_after(run.info.run_id, list(run.data.metrics), resumed)
                return str(run.info.run_id)
        run = self.client.create_run(
            experiment, run_name=self.ctx.run_id, tags={RUN_ID_TAG: self.ctx.run_id}
        )
        self._log_params(run.info.run_id)
        return str(run.info.run_id)

    def _experiment(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(name))
        except MlflowException:  # made meanwhile by another run sharing the store
            again = self.client.get_experiment_by_name(name)
            if again is None:
                raise
            return str(again.experiment_id)

    def _steps_after(self, run_id: str, keys: Sequence[str], step: int) -> dict[str, set[int]]:
        held = {}
        for key in keys:
            history = self.client.get_metric_history(run_id, key)
            held[key] = {int(m.step) for m in history if m.step > step}
        return held

    def _log_params(self, run_id: str) -> None:
        from mlflow.entities import Param as MlflowParam

        params = [MlflowParam(k, v) for k, v in flat_params(self.ctx.identity).items()]
        for batch in chunks(params, PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=list(batch))

    def log_records(self, records: Sequence[HistoryRecord]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = []
        for record in records:
            key = safe_key(record.series)
            if record.step not in self.held.get(key, ()):
                metrics.append(Metric(key, float(record.value), now, int(record.step)))
        for batch in chunks(metrics, METRICS_PER_BATCH):
            self._call(functools.partial(self.client.log_batch, self.run_id, metrics=list(batch)))

    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        self._call(lambda: self.client.log_image(self.run_id, image, key=safe_key(tag), step=step))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._call(lambda: self.client.set_terminated(self.run_id, status="FINISHED"))


@hookimpl
def medganbench_trackers() -> list[TrackerSpec]:
    return [
        TrackerSpec(
            name="mlflow",
            summary="One MLflow run per run: identity as parameters, history as metrics, grids.",
            version="1",
            factory=f"{__name__}:MlflowTracker",
            params=(
                Param(
                    "tracking_uri",
                    "",
                    "MLflow tracking URI (default: a file store in runs/<run id>/trackers/mlflow)",
                    location=True,
                ),
                Param("experiment", "medganbench", "the MLflow experiment the runs go into"),
            ),
            requires=("mlflow",),
            install="pip install 'medganbench[mlflow]'",
        )
    ]


__all__ = ["FILE_STORE_ENV", "RUN_ID_TAG", "MlflowTracker", "file_store_allowed", "tracking_uri"]
