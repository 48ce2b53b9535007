"""Phase 3 of a run: score the trained model on the evaluation split, in every direction.

Evaluation time is metered into ``ledger.eval_seconds``, apart from the training budget. Each
direction gets its sample grid (``samples.png`` for the model's primary direction,
``samples-<direction>.png`` for the others).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader

from medganbench import interrupts, progress
from medganbench.core.dataset import DatasetInfo, DomainInfo, DomainKey
from medganbench.core.geometry import VolumeGeometry
from medganbench.core.metric import (
    EvalBatch,
    Metric,
    MetricReport,
    Needs,
    TrainingTranslations,
)
from medganbench.core.model import Model, Task
from medganbench.errors import DataError, RunError
from medganbench.fileio import write_bytes
from medganbench.run.directions import (
    DIRECTIONS,
    artifact_name,
    compared_domain,
    is_cycle,
    translate,
    translate_items,
)
from medganbench.run.prepare import PreparedRun
from medganbench.run.samples import GridRow, grid_rows, save_sample_grid
from medganbench.run.trained import TrainedRun
from medganbench.run.volume_slices import (
    as_slices,
    axial_depth,
    has_body,
    slice_positions,
    with_body,
)
from medganbench.run.volumes import VolumeCollector, volume_collector

EVAL_BATCH_SIZE = 16

#: Per direction, per metric: the value and what else goes on its row.
Scores = dict[str, dict[str, tuple[float, MetricReport]]]


@dataclass(frozen=True)
class Evaluation:
    """What evaluation measured.

    Attributes:
        scores: per evaluated direction (primary first), per metric, the value and its report.
        volume_scores: the same per patient volume (rows with ``eval_unit`` ``"volume"``, mean
            over patients), for the directions of a volume-backed dataset that have a pixel-wise
            counterpart.
        native_scores: the same on the patients' native grid (rows with ``eval_grid``
            ``"native"``), when the run asked for it (``--eval-grid native``).
        seconds_per_image: per evaluated direction, the model's wall seconds per output
            (:class:`GenerationCost`).
    """

    scores: Scores
    volume_scores: Scores = field(default_factory=dict)
    native_scores: Scores = field(default_factory=dict)
    seconds_per_image: dict[str, float] = field(default_factory=dict)

    def values(self) -> dict[str, dict[str, float]]:
        """Per direction, per metric, the value alone."""
        return {
            d: {name: value for name, (value, _) in by.items()} for d, by in self.scores.items()
        }

    def volume_values(self) -> dict[str, dict[str, float]]:
        """Per direction, per metric, the mean over patients."""
        return {
            d: {name: value for name, (value, _) in by.items()}
            for d, by in self.volume_scores.items()
        }


@dataclass
class GenerationCost:
    """The model's own time in one direction's evaluation: translating or sampling alone.

    Metric updates, data loading and grids are left out, so the figure is what making one
    image costs with this model on this device, comparable between a GAN's one forward pass
    and a diffusion model's sampling chain. On a GPU the clock is read after synchronising.
    """

    seconds: float = 0.0
    images: int = 0

    @property
    def per_image(self) -> float:
        """Seconds per output image (0.0 before any image)."""
        return self.seconds / self.images if self.images else 0.0


def meaningful_metrics(
    metrics: dict[str, Metric], direction: str, info: DatasetInfo, model: Model
) -> dict[str, Metric]:
    """The metrics that mean something in ``direction``.

    Paired metrics need a pixel-wise counterpart: the paired target of a translation on paired
    data, or the input itself for a round trip. Distribution metrics answer "does the output
    look like the target domain", a question of the one-way directions and of sampling; a
    round trip's output is compared with its own input, so they are not computed there. Label
    metrics need a translation (its output shows its input's labelled anatomy), in any
    direction; those that train on translated training images
    (:class:`~medganbench.core.metric.TrainingTranslations`) only in one-way directions.
    """
    translates = model.task is Task.TRANSLATE
    labels = {
        n: m
        for n, m in metrics.items()
        if m.needs is Needs.LABELS
        and translates
        and not (is_cycle(direction) and isinstance(m, TrainingTranslations))
    }
    if is_cycle(direction):
        return {n: m for n, m in metrics.items() if m.needs is Needs.PAIRED or n in labels}
    paired_ok = info.paired and translates
    return {
        n: m
        for n, m in metrics.items()
        if (m.needs is Needs.DISTRIBUTION) or (m.needs is Needs.PAIRED and paired_ok) or n in labels
    }


def evaluate(prepared: PreparedRun, trained: TrainedRun) -> Evaluation:
    """Score the model in each of its evaluation directions with the metrics meaningful there.

    Raises:
        RunError: no requested metric can be computed in any direction, the model asks for an
            unknown direction, or it produces images of the wrong shape.
        DataError: the evaluation split is empty.
    """
    scores: Scores = {}
    volume_scores: Scores = {}
    native_scores: Scores = {}
    seconds_per_image: dict[str, float] = {}
    for direction in prepared.model.eval_directions:
        usable = direction_metrics(prepared, prepared.metrics, direction)
        if usable:
            paired = is_cycle(direction) or (
                prepared.dataset.info.paired and prepared.model.task is Task.TRANSLATE
            )
            collector = volume_collector(
                prepared.dataset,
                prepared.spec.eval_split,
                usable,
                prepared.dataset.info.domain(compared_domain(direction)).window,
                paired,
                compared_domain(direction),
                native=prepared.spec.eval_grid == "native",
            )
            cost = GenerationCost()
            scores[direction] = _evaluate_direction(
                prepared, trained, direction, usable, collector, cost
            )
            seconds_per_image[direction] = cost.per_image
            if collector is not None:
                start = time.perf_counter()
                volume_scores[direction] = collector.scores()
                if native := collector.native_scores():
                    native_scores[direction] = native
                trained.ledger.eval_seconds += time.perf_counter() - start
    if not scores:
        raise RunError(
            f"No metric of {','.join(prepared.spec.metrics)} can be computed for this run."
        )
    return Evaluation(scores, volume_scores, native_scores, seconds_per_image)


def direction_metrics(
    prepared: PreparedRun, metrics: dict[str, Metric], direction: str
) -> dict[str, Metric]:
    """The metrics of ``metrics`` that mean something in ``direction`` and apply to the domain
    its outputs are compared with (see :func:`meaningful_metrics`)."""
    usable = meaningful_metrics(metrics, direction, prepared.dataset.info, prepared.model)
    target = prepared.dataset.info.domain(compared_domain(direction))
    return {n: m for n, m in usable.items() if m.applies_to(target)}


def _evaluate_direction(
    prepared: PreparedRun,
    trained: TrainedRun,
    direction: str,
    metrics: dict[str, Metric],
    collector: VolumeCollector | None = None,
    cost: GenerationCost | None = None,
) -> dict[str, tuple[float, MetricReport]]:
    """Score the model in one direction on the eval split, write its sample grid and the
    metrics' artifacts, and meter the time as evaluation time (the model's own part also in
    ``cost``)."""
    start = time.perf_counter()
    model = prepared.model
    results, grid = score_direction(
        prepared, direction, metrics, prepared.spec.eval_split, collector, cost
    )
    grid_name = "samples.png" if direction == model.direction else f"samples-{direction}.png"
    save_sample_grid(prepared.run_dir / grid_name, grid)
    for _, report in results.values():
        for artifact, data in report.artifacts.items():
            write_bytes(
                prepared.run_dir / artifact_name(artifact, direction, model.direction), data
            )
    trained.ledger.eval_seconds += time.perf_counter() - start
    return results


def score_direction(
    prepared: PreparedRun,
    direction: str,
    metrics: dict[str, Metric],
    split: str,
    collector: VolumeCollector | None = None,
    cost: GenerationCost | None = None,
) -> tuple[dict[str, tuple[float, MetricReport]], list[GridRow]]:
    """Score the model in one direction on ``split``: value and report per metric (every batch
    also goes to ``collector``, for the per-patient scores), and the sample grid's rows of the
    first batch. Metrics that train on translated training images
    (:class:`~medganbench.core.metric.TrainingTranslations`) get them after the split's
    batches (:func:`feed_training_translations`). The model's own time on the split's images
    is added to ``cost``. Writes nothing; the model is left in eval mode.

    Raises:
        RunError: an unknown direction, or outputs of the wrong shape.
        DataError: ``split`` is empty.
    """
    model, device, spec = prepared.model, prepared.device, prepared.spec
    info = prepared.dataset.info
    if direction not in DIRECTIONS:
        raise RunError(f"Model {spec.model!r} asked to be evaluated in direction {direction!r}.")
    source_key = direction[0]
    target_key = source_key if is_cycle(direction) else direction[2]
    source_domain: DomainInfo = info.domain(source_key)  # type: ignore[arg-type]
    target_domain: DomainInfo = info.domain(target_key)  # type: ignore[arg-type]
    whole = info.volume is not None and info.volume.whole_volumes
    # Whole volumes differ in length: one at a time.
    loader = DataLoader(prepared.dataset.split(split), batch_size=1 if whole else EVAL_BATCH_SIZE)
    for metric in metrics.values():
        metric.reset()
    model.eval_mode()
    generator = torch.Generator(device=device).manual_seed(spec.seed)
    grid: list[GridRow] = []
    verb = "evaluating" if split == spec.eval_split else f"validating on {split}"
    label = f"{verb} {direction} ({', '.join(metrics)})"
    with torch.no_grad(), progress.phase(label, total=len(loader), unit="batches") as shown:
        for raw in loader:
            interrupts.check()
            target = raw[target_key].to(device)
            source = raw[source_key].to(device)
            made = time.perf_counter()
            if model.task is Task.TRANSLATE:
                pred_unit = translate_items(model, source_domain.to_unit(source), direction, info)
            else:
                pred_unit = model.sample(target.shape[0], generator)
            if cost is not None:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                cost.seconds += time.perf_counter() - made
                cost.images += int(pred_unit.shape[0])
            if pred_unit.shape != target.shape:
                raise RunError(
                    f"Model {spec.model!r} produced images of shape {tuple(pred_unit.shape)}, "
                    f"expected {tuple(target.shape)}."
                )
            pred = target_domain.from_unit(pred_unit.float())
            batch = EvalBatch(
                pred=pred,
                target=target,
                mask=raw[f"mask_{target_key}"].to(device),
                window=target_domain.window,
                paired=is_cycle(direction) or (info.paired and model.task is Task.TRANSLATE),
                domain=target_domain.name,
                **_labels(raw, source_key, target_key, device, model.task),
            )
            feed(metrics, batch, raw, collector, info.volume, compared_domain(direction))
            if not grid:
                grid = grid_rows(
                    direction,
                    (source_domain, source),
                    (target_domain, pred),
                    (target_domain, target),
                    info.a,
                    info.b,
                    sampled=model.task is Task.SAMPLE,
                    geometry=info.volume,
                )
            shown.advance()
    if not grid:
        raise DataError(f"The {split!r} split is empty; nothing to evaluate.")
    feed_training_translations(prepared, direction, metrics)
    return {name: (metric.compute(), metric.report()) for name, metric in metrics.items()}, grid


def feed(
    metrics: dict[str, Metric],
    batch: EvalBatch,
    raw: dict[str, torch.Tensor],
    collector: VolumeCollector | None,
    geometry: VolumeGeometry | None,
    compared: DomainKey,
) -> None:
    """Hand one evaluated batch to every metric and to the per-patient collector.

    On a volume dataset (``geometry`` given) a metric of volumes (``spatial_dims`` holding 3)
    gets the volumes; the others, and the collector (each slice with its patient and axial
    index), get their axial slices that hold body: a 2-D dataset of the same volumes delivers
    no slice without body either (:mod:`medganbench.run.volume_slices`).
    """
    if geometry is None:
        for metric in metrics.values():
            metric.update(batch)
        if collector is not None:
            collector.add(raw, batch.pred, batch.target, batch.mask, batch.labels)
        return
    slices = as_slices(batch, geometry)
    keep = has_body(slices)
    scored = with_body(slices, keep)
    for metric in metrics.values():
        if 3 in type(metric).spatial_dims:
            metric.update(batch)
        elif scored.pred.shape[0]:
            metric.update(scored)
    if collector is not None and scored.pred.shape[0]:
        depth = axial_depth(batch.pred, geometry)
        positions = slice_positions(raw, compared, depth)
        kept = {k: v[keep.cpu()] for k, v in (positions or {}).items()}
        collector.add(kept, scored.pred, scored.target, scored.mask, scored.labels)


def _labels(
    raw: dict[str, torch.Tensor],
    source_key: str,
    target_key: str,
    device: torch.device,
    task: Task,
) -> dict[str, torch.Tensor | None]:
    """An EvalBatch's ``labels`` (the source's maps: a translation keeps its input's anatomy)
    and ``target_labels``, where the dataset has label maps and the model translates."""
    source, target = raw.get(f"label_{source_key}"), raw.get(f"label_{target_key}")
    if task is not Task.TRANSLATE or source is None:
        return {"labels": None, "target_labels": None}
    return {
        "labels": source.to(device),
        "target_labels": target.to(device) if target is not None else None,
    }


def feed_training_translations(
    prepared: PreparedRun, direction: str, metrics: dict[str, Metric]
) -> None:
    """Translate the training split's source images and hand each batch to every metric that
    asks for them (:class:`~medganbench.core.metric.TrainingTranslations`)."""
    wanting = [m for m in metrics.values() if isinstance(m, TrainingTranslations)]
    if not wanting or is_cycle(direction) or prepared.model.task is not Task.TRANSLATE:
        return
    model, device, info = prepared.model, prepared.device, prepared.dataset.info
    source_key, target_key = direction[0], direction[2]
    source_domain: DomainInfo = info.domain(source_key)  # type: ignore[arg-type]
    target_domain: DomainInfo = info.domain(target_key)  # type: ignore[arg-type]
    loader = DataLoader(prepared.dataset.split("train"), batch_size=EVAL_BATCH_SIZE)
    label = f"translating the training split {direction} (for {len(wanting)} metric(s))"
    with torch.no_grad(), progress.phase(label, total=len(loader), unit="batches") as shown:
        for raw in loader:
            interrupts.check()
            source = raw[source_key].to(device)
            pred_unit = translate(model, source_domain.to_unit(source), direction)
            batch = EvalBatch(
                pred=target_domain.from_unit(pred_unit.float()),
                target=raw[target_key].to(device),
                mask=raw[f"mask_{target_key}"].to(device),
                window=target_domain.window,
                paired=info.paired,
                domain=target_domain.name,
                **_labels(raw, source_key, target_key, device, model.task),
            )
            if info.volume is not None:
                batch = with_body(as_slices(batch, info.volume))
            for metric in wanting:
                metric.update_training(batch)
            shown.advance()
