"""Sweep files: a grid of runs under one budget, one image size and one metric set.

A sweep file is TOML::

    name = "paper000-table5"            # names the sweep's record file
    description = "..."                 # optional
    budget = "kimg=50"                  # one budget for every trial, as for --budget
    image_size = 256
    metrics = ["psnr", "ssim", "mae"]
    seeds = [0, 1, 2]
    eval_split = "test"                 # optional, default "test"
    precision = "auto"                  # optional, default "auto" (or "bf16", "fp32")
    channels_last = true                # optional, default true
    allow_unverified_weights = false    # optional: see medganbench run --allow-unverified-weights
    eval_grid = "image_size"            # optional, or "native": see medganbench run --eval-grid
    eval_every = 50                     # optional: validate every 50 steps (medganbench run --eval-every)
    select = "best:psnr"                # optional, default "final": see medganbench run --select
    metric_args = { lpips = { net = "vgg" } }   # optional

    [[datasets]]                        # or: datasets = ["kaggle-brain"]
    name = "kaggle-brain"
    args = { val_fraction = 0.1 }       # optional

    [[models]]                          # or: models = ["cyclegan", "pix2pix"]
    name = "hlsnc"
    label = "Hinge+IN+RMSprop"          # optional; default: name plus the arguments
    args = { norm = "instance" }        # optional, fixed arguments
    grid = { lr = [1e-4, 2e-4] }        # optional: one trial per combination

The trials are seeds × datasets × model variants, seeds outermost: a sweep stopped half-way
then has every variant at its first seeds rather than some variants at every seed.

A sweep holds at most :data:`~medganbench.defaults.MAX_SWEEP_TRIALS` trials (10,000;
``MEDGANBENCH_MAX_SWEEP_TRIALS=N`` raises it). The count is the product of the axes' lengths,
known before anything is expanded: a 100 × 100 × 100 grid is one message, not minutes of
expansion and gigabytes of memory.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medganbench import defaults
from medganbench.core.manager import Registries
from medganbench.core.names import is_file_stem
from medganbench.core.params import ArgValue
from medganbench.errors import UsageError
from medganbench.leaderboard.schema import EVAL_GRIDS
from medganbench.run.budget import Budget
from medganbench.run.spec import RunSpec, resolve_run
from medganbench.sweep.executor import Trial

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_TOP_KEYS = frozenset(
    {
        "name",
        "description",
        "budget",
        "devices",
        "image_size",
        "metrics",
        "seeds",
        "eval_split",
        "precision",
        "channels_last",
        "metric_args",
        "datasets",
        "models",
        "allow_unverified_weights",
        "eval_grid",
        "eval_every",
        "select",
    }
)


@dataclass(frozen=True)
class ModelVariant:
    """One model with fixed arguments (one point of a grid)."""

    name: str
    args: Mapping[str, ArgValue]
    label: str


@dataclass(frozen=True)
class DatasetChoice:
    """One dataset with its arguments."""

    name: str
    args: Mapping[str, ArgValue] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file (see the module docstring for the format).

    Attributes:
        name: the sweep's name; its record is ``<runs dir>/sweeps/<name>.json``.
        description: free text.
        budget: the one budget of every trial.
        image_size: the one image size.
        metrics: the one metric set.
        seeds: the seeds each variant runs with.
        datasets: the datasets.
        models: the model variants, grids expanded.
        eval_split, precision, channels_last, metric_args, eval_grid, select, eval_every,
            devices: as in :class:`RunSpec` (a bad ``select`` is refused when the trials are
            resolved); ``devices`` above 1 runs every trial on that many devices.
    """

    name: str
    budget: Budget
    image_size: int
    metrics: tuple[str, ...]
    seeds: tuple[int, ...]
    datasets: tuple[DatasetChoice, ...]
    models: tuple[ModelVariant, ...]
    description: str = ""
    eval_split: str = "test"
    precision: str = defaults.PRECISION
    channels_last: bool = True
    allow_unverified_weights: bool = False
    metric_args: Mapping[str, Mapping[str, ArgValue]] = field(default_factory=dict)
    eval_grid: str = "image_size"
    select: str = "final"
    eval_every: int | None = None
    devices: int = 1

    def specs(self) -> list[tuple[str, RunSpec]]:
        """``(label, spec)`` of every trial, seeds outermost."""
        return [
            (
                f"{variant.label} · {dataset.name} · seed {seed}",
                RunSpec(
                    model=variant.name,
                    dataset=dataset.name,
                    model_args=dict(variant.args),
                    dataset_args=dict(dataset.args),
                    image_size=self.image_size,
                    metrics=self.metrics,
                    metric_args={k: dict(v) for k, v in self.metric_args.items()},
                    budget=self.budget,
                    seed=seed,
                    eval_split=self.eval_split,
                    precision=self.precision,
                    channels_last=self.channels_last,
                    allow_unverified_weights=self.allow_unverified_weights,
                    eval_grid=self.eval_grid,
                    select=self.select,
                    eval_every=self.eval_every,
                    devices=self.devices,
                ),
            )
            for seed, dataset, variant in itertools.product(self.seeds, self.datasets, self.models)
        ]


def load_sweep(path: Path) -> SweepSpec:
    """Read and check a sweep file.

    Raises:
        UsageError: the file is missing, is not TOML, or a key is unknown, missing or of the
            wrong type (the message names the file and the key).
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"No sweep file at {path}.", hint="See sweeps/ for examples.") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}.") from None
    return parse_sweep(data, str(path))


def parse_sweep(data: Mapping[str, Any], where: str) -> SweepSpec:
    """Build a :class:`SweepSpec` from parsed TOML; ``where`` names the source in messages.

    Raises:
        UsageError: see :func:`load_sweep`.
    """

    def fail(message: str) -> UsageError:
        return UsageError(f"{where}: {message}", hint="The format is described in docs/sweeps.md.")

    if "amp" in data:
        raise fail(
            'amp was replaced by precision = "auto" | "bf16" | "fp32" (amp = false is "fp32").'
        )
    if unknown := sorted(set(data) - _TOP_KEYS):
        raise fail(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}.")
    for key in ("name", "budget", "metrics", "seeds", "datasets", "models"):
        if key not in data:
            raise fail(f"the key {key!r} is missing.")
    name = _typed(data, "name", str, fail)
    if not is_file_stem(name):
        raise fail(
            f"name {name!r} must be a plain file name: letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (it names the sweep's record file)."
        )
    metrics = tuple(_typed(data, "metrics", list, fail))
    seeds = tuple(_typed(data, "seeds", list, fail))
    if not metrics or not all(isinstance(m, str) for m in metrics):
        raise fail("metrics must be a non-empty list of metric names.")
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise fail("seeds must be a non-empty list of integers.")
    if len(set(seeds)) != len(seeds):
        raise fail("a seed is listed twice.")
    metric_args = data.get("metric_args", {})
    if not isinstance(metric_args, dict) or not all(
        isinstance(v, dict) for v in metric_args.values()
    ):
        raise fail(
            'metric_args must be a table of tables, e.g. metric_args = { lpips = { net = "vgg" } }.'
        )
    datasets = _datasets(data["datasets"], fail)
    models = _entries(data["models"], "models", fail)
    check_size(
        where,
        len(seeds),
        len(datasets),
        [math.prod(map(len, _grid(e, fail).values())) for e in models],
    )
    return SweepSpec(
        name=name,
        description=str(data.get("description", "")),
        budget=Budget.parse(_typed(data, "budget", str, fail)),
        image_size=int(_typed(data, "image_size", int, fail, defaults.IMAGE_SIZE)),
        metrics=metrics,
        seeds=seeds,
        datasets=tuple(datasets),
        models=tuple(_variants(models, fail)),
        eval_split=_typed(data, "eval_split", str, fail, "test"),
        precision=_typed(data, "precision", str, fail, defaults.PRECISION),
        channels_last=_typed(data, "channels_last", bool, fail, True),
        allow_unverified_weights=_typed(data, "allow_unverified_weights", bool, fail, False),
        metric_args=metric_args,
        eval_grid=_eval_grid(data, fail),
        select=_typed(data, "select", str, fail, "final"),
        eval_every=_eval_every(data, fail),
        devices=_devices(data, fail),
    )


def _devices(data: Mapping[str, Any], fail: Any) -> int:
    devices = _typed(data, "devices", int, fail, 1)
    if devices < 1:
        raise fail(f"devices {devices} must be a number of devices, at least 1.")
    return int(devices)


def _eval_every(data: Mapping[str, Any], fail: Any) -> int | None:
    if "eval_every" not in data:
        return None
    every = _typed(data, "eval_every", int, fail)
    if every < 1:
        raise fail(f"eval_every {every} must be a number of steps, at least 1.")
    return int(every)


def _eval_grid(data: Mapping[str, Any], fail: Any) -> str:
    grid = _typed(data, "eval_grid", str, fail, EVAL_GRIDS[0])
    if grid not in EVAL_GRIDS:
        raise fail(f"eval_grid {grid!r} is not one of {', '.join(EVAL_GRIDS)}.")
    return str(grid)


def _typed(data: Mapping[str, Any], key: str, type_: type, fail: Any, default: Any = None) -> Any:
    value = data.get(key, default)
    if not isinstance(value, type_) or (type_ is int and isinstance(value, bool)):
        raise fail(f"{key} must be of type {type_.__name__}, not {type(value).__name__}.")
    return value


def _entries(raw: Any, kind: str, fail: Any) -> list[dict[str, Any]]:
    """Normalise ``["a", {name = "b", ...}]`` to dicts, checking their keys."""
    if not isinstance(raw, list) or not raw:
        raise fail(f"{kind} must be a non-empty list (of names or [[{kind}]] tables).")
    allowed = {"name", "args"} | ({"label", "grid"} if kind == "models" else set())
    entries = []
    for item in raw:
        entry = {"name": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise fail(f"every entry of {kind} needs a name.")
        if unknown := sorted(set(entry) - allowed):
            raise fail(f"{kind} entry {entry['name']!r} has unknown key(s) {', '.join(unknown)}.")
        if not isinstance(entry.get("args", {}), dict):
            raise fail(f"args of {kind} entry {entry['name']!r} must be a table.")
        entries.append(entry)
    return entries


def _datasets(raw: Any, fail: Any) -> list[DatasetChoice]:
    return [
        DatasetChoice(e["name"], dict(e.get("args", {}))) for e in _entries(raw, "datasets", fail)
    ]


def _grid(entry: Mapping[str, Any], fail: Any) -> dict[str, list[Any]]:
    """A model entry's grid, checked: argument names to non-empty lists, none also in args."""
    grid = entry.get("grid", {})
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise fail(f"grid of model {entry['name']!r} must map argument names to non-empty lists.")
    if overlap := sorted(set(grid) & set(entry.get("args", {}))):
        raise fail(f"model {entry['name']!r} sets {', '.join(overlap)} in both args and grid.")
    return grid


#: Environment variable that raises (or lowers) the largest number of trials a sweep may have.
MAX_TRIALS_ENV = "MEDGANBENCH_MAX_SWEEP_TRIALS"


def max_sweep_trials() -> int:
    """The largest number of trials a sweep may have: ``MEDGANBENCH_MAX_SWEEP_TRIALS``, else
    :data:`~medganbench.defaults.MAX_SWEEP_TRIALS`.

    Raises:
        UsageError: the variable is set to something other than a positive integer.
    """
    raw = os.environ.get(MAX_TRIALS_ENV, "").strip()
    if not raw:
        return defaults.MAX_SWEEP_TRIALS
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{MAX_TRIALS_ENV}={raw!r} is not a positive number of trials.")
    return int(raw)


def check_size(where: str, seeds: int, datasets: int, variants: list[int]) -> None:
    """Refuse, before anything is expanded, a sweep of more than :func:`max_sweep_trials`
    trials (seeds × datasets × the sum of each model entry's grid points).

    Raises:
        UsageError: naming the count, its factors and the limit.
    """
    count = seeds * datasets * sum(variants)
    limit = max_sweep_trials()
    if count > limit:
        raise UsageError(
            f"{where}: the sweep has {count:,} trials ({seeds:,} seed(s) × {datasets:,} "
            f"dataset(s) × {sum(variants):,} model variant(s)), more than the limit of "
            f"{limit:,}.",
            hint=f"Split it into several sweep files, or raise the limit with {MAX_TRIALS_ENV}=N "
            "(expanding and checking takes about 0.1 ms per trial, listing it about as long).",
        )


def _variants(entries: list[dict[str, Any]], fail: Any) -> list[ModelVariant]:
    variants = []
    for entry in entries:
        grid = _grid(entry, fail)
        keys = list(grid)
        for values in itertools.product(*(grid[k] for k in keys)):
            point = dict(zip(keys, values, strict=True))
            args = {**entry.get("args", {}), **point}
            label = entry.get("label") or entry["name"]
            if point:
                label += " " + " ".join(f"{k}={v}" for k, v in point.items())
            elif "label" not in entry and args:
                label += " " + " ".join(f"{k}={v}" for k, v in args.items())
            variants.append(ModelVariant(entry["name"], args, label))
    return variants


def expand_trials(sweep: SweepSpec, registries: Registries) -> list[Trial]:
    """The sweep's trials with their run ids, every name and argument checked first.

    Trials whose specs resolve to the same run id (say, a grid point equal to the defaults
    listed twice) are run once, under the first label.

    Raises:
        UnknownNameError, UsageError: an unknown component or a bad argument, before any trial
            runs.
    """
    trials: list[Trial] = []
    seen: set[str] = set()
    for label, spec in sweep.specs():
        run_id = resolve_run(spec, registries).run_id
        if run_id in seen:
            continue
        seen.add(run_id)
        trials.append(Trial(len(trials), label, spec, run_id))
    return trials
