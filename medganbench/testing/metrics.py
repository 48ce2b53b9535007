"""The metric contracts: build, declarations, an empty compute, a finite value, the truth
preferred over a noisy copy, determinism and the report.

A metric is scored on the probe dataset's eight test images of domain B, in physical units:
against themselves (the perfect prediction) and against a copy with heavy Gaussian noise. A
metric that is not a distance to the target (reference-free, or scoring something else) skips
``prefers-truth`` with its reason. A label metric (:data:`~medganbench.core.metric.Needs.LABELS`)
gets the images' label maps with them, and one that trains on translated training images
(:class:`~medganbench.core.metric.TrainingTranslations`) gets the training images of domain B
(untouched with the perfect prediction, with the same noise with the noisy one) as the
translations.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import torch

from medganbench.core.metric import (
    EvalBatch,
    Metric,
    MetricContext,
    MetricReport,
    Needs,
    TrainingTranslations,
)
from medganbench.core.params import canonical_json
from medganbench.errors import MedganbenchError
from medganbench.testing.report import Contract, ContractViolation, Probe, expect
from medganbench.testing.support import (
    IMAGE_SIZE,
    PROBE_DATASET,
    PROBE_VOLUME_DATASET,
    check_declaration,
    probe_dataset,
    probes_volumes,
)

#: Standard deviation of the noise of the degraded copy, in the target's units.
NOISE = 200.0
NOISE_SEED = 0


def _batches(probe: Probe) -> tuple[EvalBatch, EvalBatch]:
    """(perfect, noisy) evaluation batches of the probe dataset's test images (eight by
    default: density and coverage, with k = 5, need at least six)."""
    if "batches" not in probe.made:
        dataset = probe_dataset(probe)
        split = dataset.split("test")
        items = [split[i] for i in range(len(split))]  # type: ignore[arg-type]
        target = torch.stack([item["b"] for item in items])
        mask = torch.stack([item["mask_b"] for item in items])
        noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(NOISE_SEED))
        window = dataset.info.b.window
        labels = torch.stack([item["label_b"] for item in items]) if dataset.info.labels else None
        perfect = EvalBatch(
            target.clone(), target, mask, window, True, "b", labels=labels, target_labels=labels
        )
        noisy = EvalBatch(target + NOISE * noise, target, mask, window, True, "b", labels, labels)
        probe.made["batches"] = (perfect, noisy)
    batches: tuple[EvalBatch, EvalBatch] = probe.made["batches"]
    return batches


def _training_batch(probe: Probe, noisy: bool) -> EvalBatch:
    """The probe's training images of domain B as a metric's "translated training images":
    untouched, or with the noisy batch's kind of noise."""
    dataset = probe_dataset(probe)
    split = dataset.split("train")
    items = [split[i] for i in range(len(split))]  # type: ignore[arg-type]
    target = torch.stack([item["b"] for item in items])
    labels = torch.stack([item["label_b"] for item in items]) if dataset.info.labels else None
    generator = torch.Generator().manual_seed(NOISE_SEED + 1)
    pred = target + NOISE * torch.randn(target.shape, generator=generator) if noisy else target
    mask = torch.stack([item["mask_b"] for item in items])
    return EvalBatch(pred, target, mask, dataset.info.b.window, True, "b", labels, labels)


def _score(metric: Metric, batch: EvalBatch, training: EvalBatch | None = None) -> float:
    metric.reset()
    metric.update(batch)
    if training is not None and isinstance(metric, TrainingTranslations):
        metric.update_training(training)
    value = metric.compute()
    expect(isinstance(value, float | int), f"compute() returned a {type(value).__name__}")
    return float(value)


def _build(probe: Probe) -> str:
    dataset = probe_dataset(probe)

    def training_images(domain: str) -> torch.Tensor:
        split = dataset.split("train")
        return torch.stack([split[i]["b"] for i in range(len(split))])  # type: ignore[arg-type]

    def training_labelled(domain: str) -> tuple[torch.Tensor, torch.Tensor]:
        split = dataset.split("train")
        items = [split[i] for i in range(len(split))]  # type: ignore[arg-type]
        return torch.stack([i["b"] for i in items]), torch.stack([i["label_b"] for i in items])

    # A cache of its own, as a run's: what the metric caches about the real images is reused
    # by the later checks, and the cache is part of what is checked.
    cache = tempfile.TemporaryDirectory(prefix="medganbench-check-")
    probe.made["cache"] = cache  # removed when the checks end
    default = PROBE_VOLUME_DATASET if probes_volumes(probe.spec) else PROBE_DATASET
    name = str(probe.options.get("dataset", default))
    ctx = MetricContext(
        device=torch.device("cpu"),
        cache_dir=Path(cache.name),
        dataset=name,
        dataset_version=probe.options["registries"].datasets.get(name).version,
        dataset_fingerprint=dataset.fingerprint(),
        split="test",
        image_size=IMAGE_SIZE,
        training_images=training_images,
        label_classes=dataset.info.labels,
        training_labelled=training_labelled if dataset.info.labels else None,
        volume=dataset.info.volume,
    )
    metric = probe.spec.build(probe.args, ctx)
    probe.made["metric"] = metric
    return f"{type(metric).__name__}"


def _declares(probe: Probe) -> str:
    detail = check_declaration(probe)
    metric: Metric = probe.made["metric"]
    expect(isinstance(metric.needs, Needs), f"needs is {metric.needs!r}, not a Needs")
    expect(isinstance(metric.higher_is_better, bool), "higher_is_better is not a bool")
    expect(str(metric.convention).strip(), "convention is empty (it is written on every row)")
    better = "higher" if metric.higher_is_better else "lower"
    return f"{detail}; needs {metric.needs.value}, {better} is better"


def _empty(probe: Probe) -> str:
    metric: Metric = probe.made["metric"]
    metric.reset()
    try:
        value = metric.compute()
    except MedganbenchError:
        return "compute() with nothing accumulated raises a clear error"
    raise ContractViolation(f"compute() with nothing accumulated returned {value!r}")


def _finite(probe: Probe) -> str:
    value = _score(probe.made["metric"], _batches(probe)[1], _training_batch(probe, noisy=True))
    count = len(_batches(probe)[1].pred)
    expect(math.isfinite(value), f"a noisy copy of {count} test images scores {value}")
    probe.made["noisy"] = value
    probe.made["report"] = probe.made["metric"].report()  # the report of this compute()
    return f"a noisy copy of {count} test images scores {value:.6g}"


def _prefers_truth(probe: Probe) -> str:
    metric: Metric = probe.made["metric"]
    degraded = probe.made["noisy"]
    perfect = _score(
        metric, _batches(probe)[0], _training_batch(probe, noisy=False)
    )  # may be infinite (PSNR)
    better = perfect > degraded if metric.higher_is_better else perfect < degraded
    expect(better, f"the truth scores {perfect:.6g}, a noisy copy {degraded:.6g}")
    return f"truth {perfect:.6g}, noisy copy {degraded:.6g}"


def _determinism(probe: Probe) -> str:
    again = _score(probe.made["metric"], _batches(probe)[1], _training_batch(probe, noisy=True))
    expect(
        again == probe.made["noisy"],
        f"the same images scored {probe.made['noisy']!r}, then {again!r} after reset()",
    )
    return "the same images score the same after reset()"


def _report(probe: Probe) -> str:
    report: Any = probe.made["report"]
    expect(isinstance(report, MetricReport), f"report() returned a {type(report).__name__}")
    canonical_json(dict(report.details))
    for name, sha in report.weights.items():
        expect(
            isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha),
            f"weights {name!r}: {sha!r} is not a sha256",
        )
    floor = report.noise_floor
    expect(floor is None or math.isfinite(floor), f"noise floor {floor!r}")
    for file in report.artifacts:
        expect(
            "/" not in file and "\\" not in file and not file.startswith("."),
            f"artifact name {file!r}",
        )
    return f"{len(report.details)} detail(s), {len(report.weights)} weights, noise floor {floor}"


CONTRACTS: tuple[Contract, ...] = (
    Contract("build", "the factory builds a Metric with a run's context", _build),
    Contract(
        "declares",
        "a version, parameters, needs, ranking direction, convention",
        _declares,
        ("build",),
    ),
    Contract(
        "empty-compute",
        "compute() with nothing accumulated raises a clear error",
        _empty,
        ("build",),
    ),
    Contract("finite", "a noisy copy of the truth scores a finite number", _finite, ("build",)),
    Contract(
        "prefers-truth", "the truth scores better than a noisy copy", _prefers_truth, ("finite",)
    ),
    Contract(
        "determinism", "the same images score the same after reset()", _determinism, ("finite",)
    ),
    Contract(
        "report",
        "report() gives JSON details, sha256 weights, a finite noise floor",
        _report,
        ("finite",),
    ),
)

__all__ = ["CONTRACTS"]
