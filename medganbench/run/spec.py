"""Run specs, their resolution against the plugins, and their stable identity.

A :class:`RunSpec` is everything a user chooses about a run. :func:`resolve_run` checks it
against the registries (names, arguments, metric arguments) without building anything heavy and
fixes the component versions; the resulting :class:`ResolvedRun` is hashed into the run id: the
same spec, with the same versions, always gives the same id, and any change that could move a
leaderboard number gives a different one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medganbench import defaults
from medganbench.core.manager import Registries
from medganbench.core.model import Task
from medganbench.core.params import ArgValue, canonical_json, identity_args
from medganbench.errors import UsageError
from medganbench.leaderboard.protocols import FINAL_PROTOCOL, best_protocol
from medganbench.leaderboard.schema import EVAL_GRIDS
from medganbench.run.budget import Budget

#: Smallest and largest ``--image-size`` a run accepts.
IMAGE_SIZE_RANGE = (16, 4096)

#: ``--select``'s default: score the weights at the end of the budget.
FINAL = FINAL_PROTOCOL

#: Most devices (processes) one run may span.
MAX_DEVICES = 1024

#: The values of ``--precision``.
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class RunSpec:
    """What to run.

    Attributes:
        model: registered model name.
        dataset: registered dataset name.
        model_args: given model arguments (strings from the CLI, or typed values).
        dataset_args: given dataset arguments.
        image_size: side length of the square images.
        metrics: metric names, evaluated in this order.
        metric_args: given arguments per metric name, e.g. ``{"lpips": {"net": "vgg"}}``.
        budget: the training budget.
        seed: seeds every RNG of the run.
        eval_split: the split evaluated at the end.
        precision: training precision requested (:data:`PRECISIONS`): ``fp32``; ``bf16``
            (bf16 autocast, fp32 weights and optimiser state); ``auto`` = bf16 on CUDA GPUs
            and CPUs with native bf16, fp32 elsewhere (see
            :func:`~medganbench.run.device.effective_precision`). The request is in the run
            id; the precision the device used is on every row.
        channels_last: use channels-last memory format on CUDA; ignored on CPU.
        allow_unverified_weights: let metrics use an explicit weights file whose sha256 matches
            no pin (``--allow-unverified-weights``); its rows record the file's own hash.
        eval_grid: the grids per-patient volumes are scored on (``--eval-grid``, one of
            :data:`~medganbench.leaderboard.schema.EVAL_GRIDS`): ``"image_size"``, the run's
            ``--image-size`` grid only; ``"native"``, also each patient's native grid (rows with
            ``eval_grid`` ``"native"``), for datasets that can give it
            (:class:`~medganbench.core.volumes.NativeSource`; refused for others).
        devices: how many devices (processes, one per GPU) train the run together
            (``--devices``; see :mod:`medganbench.run.distributed`). In the run id when above
            1: the order of sums, per-device noise and per-device batch norm on CPUs can move
            the last digits, and a per-device batch the whole arithmetic.
    """

    model: str
    dataset: str = defaults.DATASET
    model_args: Mapping[str, ArgValue] = field(default_factory=dict)
    dataset_args: Mapping[str, ArgValue] = field(default_factory=dict)
    image_size: int = defaults.IMAGE_SIZE
    metrics: tuple[str, ...] = defaults.PAIRED_METRICS
    metric_args: Mapping[str, Mapping[str, ArgValue]] = field(default_factory=dict)
    budget: Budget = field(default_factory=lambda: Budget.parse(defaults.BUDGET))
    seed: int = 0
    eval_split: str = "test"
    precision: str = defaults.PRECISION
    channels_last: bool = True
    allow_unverified_weights: bool = False
    eval_grid: str = "image_size"
    select: str = FINAL
    eval_every: int | None = None
    devices: int = 1

    @property
    def selection_metric(self) -> str | None:
        """METRIC of ``best:METRIC``, or ``None`` under the final protocol."""
        return self.select.partition(":")[2] or None

    @property
    def protocol(self) -> str:
        """The rows' ``protocol``: ``"final"`` or ``"best:METRIC@val"``."""
        metric = self.selection_metric
        return FINAL if metric is None else best_protocol(metric)


@dataclass(frozen=True)
class ResolvedRun:
    """A run spec after plugin resolution: arguments typed and defaulted, versions known.

    Attributes:
        dataset_args: the dataset's arguments that define the data (in the run id and on rows).
        dataset_location: its location arguments (``Param(location=True)``, e.g. ``root``):
            where the files are on this machine. Never in the run id, a row or a published file.
        provenance: the distributions that provide the components, ``{"model": {"name",
            "version"}, "dataset": {...}, "metrics": {metric: {...}}}`` (see
            :meth:`~medganbench.core.manager.Registries.provenance`); on every row, not in the
            run id (a component's own version is).
        encoder_versions: version of each encoder a metric argument names (``fd.encoder``),
            where that argument is part of the run id; in the id only when there is one.
    """

    spec: RunSpec
    model_args: dict[str, ArgValue]
    dataset_args: dict[str, ArgValue]
    model_version: str
    dataset_version: str
    metric_versions: dict[str, str]
    metric_args: dict[str, dict[str, ArgValue]] = field(default_factory=dict)
    dataset_location: dict[str, ArgValue] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    encoder_versions: dict[str, str] = field(default_factory=dict)

    def dataset_build_args(self) -> dict[str, ArgValue]:
        """Every dataset argument, location included: what the dataset is built with."""
        return {**self.dataset_args, **self.dataset_location}

    def identity(self) -> dict[str, Any]:
        """The fields that define the run (and its id)."""
        return {
            "model": self.spec.model,
            "model_version": self.model_version,
            "model_args": self.model_args,
            "dataset": self.spec.dataset,
            "dataset_version": self.dataset_version,
            "dataset_args": self.dataset_args,
            "image_size": self.spec.image_size,
            "metrics": self.metric_versions,
            # Only metrics that declare arguments appear, so adding argument support to the
            # spec did not change the ids of runs whose metrics take none.
            **(
                {"metric_args": {k: v for k, v in self.metric_args.items() if v}}
                if any(self.metric_args.values())
                else {}
            ),
            **({"encoders": self.encoder_versions} if self.encoder_versions else {}),
            "budget": self.spec.budget.as_dict(),
            "seed": self.spec.seed,
            "eval_split": self.spec.eval_split,
            # Requested, not effective: the leaderboard row records what the device honoured.
            "precision": self.spec.precision,
            "channels_last": self.spec.channels_last,
            # Only when set, so that the ids of ordinary runs did not change: weights that match
            # no pin can move every number of the run.
            **({"allow_unverified_weights": True} if self.spec.allow_unverified_weights else {}),
            # Only when native, for the same reason: native-grid rows are rows the run adds.
            **({"eval_grid": self.spec.eval_grid} if self.spec.eval_grid != "image_size" else {}),
            # Only when a checkpoint is chosen: validating during training changes no row
            # unless the choice depends on it, and final runs kept their ids.
            **(
                {"select": self.spec.select, "eval_every": self.spec.eval_every}
                if self.spec.select != FINAL
                else {}
            ),
            # Only above one device, so that single-device runs kept their ids.
            **({"devices": self.spec.devices} if self.spec.devices != 1 else {}),
        }

    def recorded(self) -> dict[str, Any]:
        """What ``spec.json`` holds: the run id, :meth:`identity`, and ``eval_every`` where it
        is not in the identity (a resumed run validates on the same steps)."""
        extra = {"eval_every": self.spec.eval_every} if self.spec.eval_every is not None else {}
        return {"run_id": self.run_id, **extra, **self.identity()}

    @property
    def run_id(self) -> str:
        """16 hex digits of the SHA-256 of :meth:`identity` as canonical JSON."""
        return hashlib.sha256(canonical_json(self.identity()).encode()).hexdigest()[:16]


def resolve_run(spec: RunSpec, registries: Registries) -> ResolvedRun:
    """Check names and arguments and fix the versions, without building anything heavy.

    Raises:
        UnknownNameError: an unknown model, dataset, metric or argument (exit code 2).
        UsageError: a bad argument value, an empty metric list, a bad image size, precision or
            evaluation grid.
    """
    low, high = IMAGE_SIZE_RANGE
    if not low <= spec.image_size <= high:
        raise UsageError(f"--image-size {spec.image_size} is out of range ({low} to {high}).")
    if not -(2**63) <= spec.seed < 2**63:
        # The seed is recorded in the leaderboard's int64 column: refused before training.
        raise UsageError(f"--seed {spec.seed} does not fit a 64-bit integer.")
    if spec.precision not in PRECISIONS:
        raise UsageError(
            f"--precision {spec.precision!r} is not one of {', '.join(PRECISIONS)}.",
            hint="auto = bf16 where the device has it natively, else fp32.",
        )
    if not 1 <= spec.devices <= MAX_DEVICES:
        raise UsageError(f"--devices {spec.devices} is out of range (1 to {MAX_DEVICES}).")
    if spec.eval_grid not in EVAL_GRIDS:
        raise UsageError(f"--eval-grid {spec.eval_grid!r} is not one of {', '.join(EVAL_GRIDS)}.")
    if not spec.metrics:
        raise UsageError("No metrics were asked for.", hint="Example: --metrics psnr,ssim,mae")
    check_selection(spec)
    if len(set(spec.metrics)) != len(spec.metrics):
        raise UsageError(f"A metric is listed twice in {','.join(spec.metrics)}.")
    model_spec = registries.models.get(spec.model)
    dataset_spec = registries.datasets.get(spec.dataset)
    metric_specs = {name: registries.metrics.get(name) for name in spec.metrics}
    for name in spec.metric_args:
        if name not in spec.metrics:
            raise UsageError(
                f"--metric-arg for {name!r}, which is not among the run's metrics "
                f"({','.join(spec.metrics)})."
            )
    dataset_args = dataset_spec.resolve(spec.dataset_args)
    locations = {p.name for p in dataset_spec.params if p.location}
    metric_args = {
        name: identity_args(s.params, s.resolve(spec.metric_args.get(name, {})))
        for name, s in metric_specs.items()
    }
    return ResolvedRun(
        spec=spec,
        model_args=model_spec.resolve(spec.model_args),
        dataset_args={k: v for k, v in dataset_args.items() if k not in locations},
        dataset_location={k: v for k, v in dataset_args.items() if k in locations},
        model_version=model_spec.version,
        dataset_version=dataset_spec.version,
        metric_versions={name: s.version for name, s in metric_specs.items()},
        metric_args=metric_args,
        encoder_versions=_encoder_versions(metric_specs, metric_args, registries),
        provenance={
            "model": registries.provenance("models", spec.model),
            "dataset": registries.provenance("datasets", spec.dataset),
            "metrics": {name: registries.provenance("metrics", name) for name in spec.metrics},
        },
    )


def check_selection(spec: RunSpec) -> None:
    """Refuse a ``--select`` or ``--eval-every`` that cannot be honoured.

    Raises:
        UsageError: ``select`` is neither ``final`` nor ``best:METRIC`` with METRIC among the
            run's metrics, ``best:`` without ``--eval-every``, or ``eval_every`` below 1.
    """
    if spec.eval_every is not None and spec.eval_every < 1:
        raise UsageError(f"--eval-every {spec.eval_every}: give a number of steps, at least 1.")
    if spec.select == FINAL:
        return
    kind, colon, metric = spec.select.partition(":")
    if kind != "best" or not colon or not metric:
        raise UsageError(
            f"--select {spec.select!r} is neither 'final' nor 'best:METRIC'.",
            hint="Example: --select best:psnr --eval-every 50",
        )
    if metric not in spec.metrics:
        raise UsageError(
            f"--select {spec.select}: {metric!r} is not among the run's metrics "
            f"({','.join(spec.metrics)}).",
            hint=f"Add it to --metrics, or choose by one of {','.join(spec.metrics)}.",
        )
    if spec.eval_every is None:
        raise UsageError(
            f"--select {spec.select} chooses among checkpoints evaluated on the validation "
            "split, and no --eval-every was given.",
            hint=f"Example: --select {spec.select} --eval-every 50",
        )


def _encoder_versions(
    metric_specs: Mapping[str, Any],
    metric_args: Mapping[str, Mapping[str, ArgValue]],
    registries: Registries,
) -> dict[str, str]:
    """Encoder name → version for every metric argument that names an encoder
    (``Param(component="encoder")``) and is part of the run id.

    Raises:
        UnknownNameError: no encoder of that name is registered (close names suggested).
    """
    versions: dict[str, str] = {}
    for name, metric_spec in metric_specs.items():
        for param in metric_spec.params:
            if param.component != "encoder":
                continue
            chosen = metric_args[name].get(param.name, param.default)
            encoder = registries.encoders.get(str(chosen))
            if param.name in metric_args[name]:
                versions[encoder.name] = encoder.version
    return versions


def default_image_size(registries: Registries, dataset: str) -> int:
    """The side a run of ``dataset`` uses without ``--image-size``: the dataset's own
    (:attr:`~medganbench.core.specs.DatasetSpec.image_size`), else
    :data:`~medganbench.defaults.IMAGE_SIZE`.

    Raises:
        UnknownNameError: no such dataset.
    """
    own = registries.datasets.get(dataset).image_size
    return defaults.IMAGE_SIZE if own is None else int(own)


def default_metrics(
    registries: Registries,
    model: str,
    dataset: str = defaults.DATASET,
    dataset_args: Mapping[str, ArgValue] | None = None,
) -> tuple[str, ...]:
    """The metrics a run gets without ``--metrics``: they follow the model and the data.

    * a sampling model: :data:`~medganbench.defaults.SAMPLING_METRICS` (it has no paired
      target);
    * a translation model on paired data: :data:`~medganbench.defaults.PAIRED_METRICS`;
    * on unpaired data: :data:`~medganbench.defaults.UNPAIRED_METRICS` for the one-way
      directions, plus :data:`~medganbench.defaults.ROUND_TRIP_METRICS` for the round trips of
      a cycle-consistent model (which are true pairs even on unpaired data).

    On a volume dataset (:attr:`~medganbench.core.specs.DatasetSpec.spatial_dims` 3), the
    3-D sets: :data:`~medganbench.defaults.VOLUME_SAMPLING_METRICS` for a sampling model,
    :data:`~medganbench.defaults.VOLUME_PAIRED_METRICS` for a translation on paired volumes,
    :data:`~medganbench.defaults.VOLUME_UNPAIRED_METRICS` on unpaired ones.

    Whether the data are paired comes from the dataset's spec, without building it
    (:meth:`~medganbench.core.specs.DatasetSpec.is_paired`).

    Raises:
        UnknownNameError: no such model or dataset, or an undeclared dataset argument.
        UsageError: a bad dataset argument value.
    """
    model_cls = registries.models.get(model).load()
    task = getattr(model_cls, "task", Task.TRANSLATE)
    dataset_spec = registries.datasets.get(dataset)
    if task is Task.SAMPLE and dataset_spec.dimensions(dataset_args or {}) == 2:
        return defaults.SAMPLING_METRICS
    return metrics_for(
        task,
        dataset_spec.is_paired(dataset_args or {}),
        cycle_consistent=getattr(model_cls, "cycle_consistent", False),
        spatial_dims=dataset_spec.dimensions(dataset_args or {}),
    )


def metrics_for(
    task: Task, paired: bool, *, cycle_consistent: bool = False, spatial_dims: int = 2
) -> tuple[str, ...]:
    """The default metrics of a model doing ``task`` on paired or unpaired data of
    ``spatial_dims``-D items (see :func:`default_metrics`); ``medganbench score`` uses it for
    outputs made elsewhere."""
    if spatial_dims == 3:
        if task is Task.SAMPLE:
            return defaults.VOLUME_SAMPLING_METRICS
        if paired:
            return defaults.VOLUME_PAIRED_METRICS
        one_way = defaults.VOLUME_UNPAIRED_METRICS
        return one_way + defaults.ROUND_TRIP_METRICS if cycle_consistent else one_way
    if task is Task.SAMPLE:
        return defaults.SAMPLING_METRICS
    if paired:
        return defaults.PAIRED_METRICS
    if cycle_consistent:
        return defaults.UNPAIRED_METRICS + defaults.ROUND_TRIP_METRICS
    return defaults.UNPAIRED_METRICS
