# Hook specifications are declarations: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"
"""The hooks a medganbench plugin can implement.

A plugin is a module (or object) with functions decorated by :data:`hookimpl` whose names match
the specs below. Built-in plugins live in ``medganbench_plugins``; third-party packages expose
theirs through the ``medganbench`` entry-point group::

    [project.entry-points.medganbench]
    my_models = "my_package.medganbench_plugin"

Every hook returns a list of specs; all plugins' lists are collected into one registry per kind,
where a name may appear only once.
"""

from __future__ import annotations

import pluggy

from medganbench.core.specs import (
    DatasetSpec,
    EncoderSpec,
    ExecutorSpec,
    MetricSpec,
    ModelSpec,
    ReportedResult,
    TrackerSpec,
    WeightsSpec,
)

PROJECT_NAME = "medganbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def medganbench_datasets() -> list[DatasetSpec]:
    """Return the datasets this plugin provides.

    Each factory is called as ``factory(args, ctx)`` with the dataset's resolved arguments and a
    :class:`medganbench.core.dataset.DatasetContext`, and returns a
    :class:`medganbench.core.dataset.Dataset` that honours that contract: declared domains (modality,
    units, window, channels), pairing and splits, images of exactly ``ctx.image_size``.
    """


@hookspec
def medganbench_models() -> list[ModelSpec]:
    """Return the models this plugin provides.

    Each factory is called as ``factory(args, ctx)`` with the model's resolved arguments and a
    :class:`medganbench.core.model.ModelContext`, and returns a :class:`medganbench.core.model.Model`
    that trains one step per :meth:`~medganbench.core.model.Model.train_step` call and either
    translates or samples.
    """


@hookspec
def medganbench_metrics() -> list[MetricSpec]:
    """Return the metrics this plugin provides.

    Each factory is called as ``factory(args, ctx)`` with the metric's resolved arguments and a
    :class:`medganbench.core.metric.MetricContext`, and returns a :class:`medganbench.core.metric.Metric`
    that declares what it needs (paired images or distributions), whether higher is better, and
    the convention it computes.
    """


@hookspec
def medganbench_encoders() -> list[EncoderSpec]:
    """Return the feature encoders this plugin provides (for ``--metric-arg fd.encoder=NAME``).

    Each factory is called as ``factory(args, ctx)`` with the encoder's resolved arguments and a
    :class:`medganbench.core.encoder.EncoderContext` holding the verified weights, and returns a
    :class:`medganbench.core.encoder.Encoder`: uint8 RGB images in, one float32 feature vector
    per image out. The encoder's name and version enter the run id of every run that uses it.
    """


@hookspec
def medganbench_weights() -> list[WeightsSpec]:
    """Return the pretrained-weights artifacts this plugin's components need.

    Each :class:`medganbench.weights.store.WeightsSpec` names its sources (official download, package
    index) and converters; components obtain the file with
    :func:`medganbench.weights.store.resolve_weights`, and ``medganbench weights`` lists, installs and
    verifies them.
    """


@hookspec
def medganbench_executors() -> list[ExecutorSpec]:
    """Return the sweep executors this plugin provides.

    Each factory is called as ``factory(args)`` with the executor's resolved arguments and
    returns a :class:`medganbench.sweep.executor.Executor`, which runs a sweep's trials (each through
    :func:`medganbench.sweep.executor.run_trial`) sequentially, in worker processes or on a cluster,
    and hands each outcome back to the sweep as it finishes.
    """


@hookspec
def medganbench_trackers() -> list[TrackerSpec]:
    """Return the experiment trackers this plugin provides (for ``--tracker NAME``).

    Each factory is called as ``factory(args, ctx)`` with the tracker's resolved arguments and a
    :class:`medganbench.core.tracker.TrackerContext`, and returns a
    :class:`medganbench.core.tracker.Tracker` that mirrors the run's history records and sample
    grids to its store (TensorBoard event files, an MLflow run, ...). A tracker cannot change a
    result: it is not part of any run id, and none is required for a run.
    """


@hookspec
def medganbench_reported_results() -> list[ReportedResult]:
    """Return numbers that source papers report (see :class:`medganbench.core.specs.ReportedResult`).

    ``medganbench leaderboard publish`` shows them on each dataset's page in a table of their
    own, labelled as reported, never ranked with measured runs: they come from other budgets,
    splits and metric conventions.
    """
