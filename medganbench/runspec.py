"""Run specs and their stable identity.

A :class:`RunSpec` is everything a user chooses about a run. Once the plugins are resolved, the
spec plus the component versions is hashed into the run id: the same spec, with the same
versions, always gives the same id, and any change that could move a leaderboard number gives a
different one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medganbench.budget import Budget
from medganbench.params import ArgValue

DEFAULT_DATASET = "phantom-brain"
DEFAULT_IMAGE_SIZE = 64
DEFAULT_BUDGET = "steps=100"
DEFAULT_METRICS = ("psnr", "ssim", "mae")
#: The CLI's default for unconditional (sampling) models, which have no paired target.
SAMPLING_METRICS = ("fid", "kid")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


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
        amp: use bf16 mixed precision where the device supports it (CUDA); ignored on CPU.
        channels_last: use channels-last memory format on CUDA; ignored on CPU.
    """

    model: str
    dataset: str = DEFAULT_DATASET
    model_args: Mapping[str, ArgValue] = field(default_factory=dict)
    dataset_args: Mapping[str, ArgValue] = field(default_factory=dict)
    image_size: int = DEFAULT_IMAGE_SIZE
    metrics: tuple[str, ...] = DEFAULT_METRICS
    metric_args: Mapping[str, Mapping[str, ArgValue]] = field(default_factory=dict)
    budget: Budget = field(default_factory=lambda: Budget.parse(DEFAULT_BUDGET))
    seed: int = 0
    eval_split: str = "test"
    amp: bool = True
    channels_last: bool = True


@dataclass(frozen=True)
class ResolvedRun:
    """A run spec after plugin resolution: arguments typed and defaulted, versions known."""

    spec: RunSpec
    model_args: dict[str, ArgValue]
    dataset_args: dict[str, ArgValue]
    model_version: str
    dataset_version: str
    metric_versions: dict[str, str]
    metric_args: dict[str, dict[str, ArgValue]] = field(default_factory=dict)

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
            "budget": self.spec.budget.as_dict(),
            "seed": self.spec.seed,
            "eval_split": self.spec.eval_split,
            # Requested, not effective: the leaderboard row records what the device honoured.
            "amp": self.spec.amp,
            "channels_last": self.spec.channels_last,
        }

    @property
    def run_id(self) -> str:
        """16 hex digits of the SHA-256 of :meth:`identity` as canonical JSON."""
        return hashlib.sha256(canonical_json(self.identity()).encode()).hexdigest()[:16]


def spec_from_identity(identity: Mapping[str, Any]) -> RunSpec:
    """Rebuild the :class:`RunSpec` of a run from its recorded :meth:`ResolvedRun.identity`.

    The resolved arguments stand in for the given ones (resolving them again gives the same
    values), so the rebuilt spec has the same run id as long as the component versions are
    unchanged.

    Raises:
        UsageError: ``identity`` lacks a field or holds a malformed one.
    """
    from medganbench.errors import UsageError

    try:
        return RunSpec(
            model=str(identity["model"]),
            dataset=str(identity["dataset"]),
            model_args=dict(identity["model_args"]),
            dataset_args=dict(identity["dataset_args"]),
            image_size=int(identity["image_size"]),
            metrics=tuple(identity["metrics"]),
            metric_args={k: dict(v) for k, v in identity.get("metric_args", {}).items()},
            budget=Budget(**identity["budget"]),
            seed=int(identity["seed"]),
            eval_split=str(identity["eval_split"]),
            amp=bool(identity["amp"]),
            channels_last=bool(identity["channels_last"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"The recorded run spec is incomplete or malformed ({exc!r}).") from None
