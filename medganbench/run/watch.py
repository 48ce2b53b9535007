"""What a run records while it trains: its history, validation every ``--eval-every`` steps, the
best checkpoint (``--select best:METRIC``) and the trackers' copies.

The training loop (:mod:`~medganbench.run.train`) owns one :class:`Watch` and tells it what
happened: the losses it read (:meth:`Watch.losses`), each finished step (:meth:`Watch.after_step`:
validates when due), each checkpoint (:meth:`Watch.state` rides in it) and the end
(:meth:`Watch.finish`: the last validation and, under ``best:``, the best weights put back).

Validation never changes the run it watches: it runs outside the metered training time (its
time is evaluation time), on the validation split with metric instances of its own, in eval mode
under ``torch.no_grad``, and every process RNG is put back afterwards, so a run validated every
few steps trains exactly as one that is not (tested). Only the choice of checkpoint can change a
row, which is why ``select`` and ``eval_every`` enter the run id only under ``best:``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medganbench.core.history import HistoryRecord
from medganbench.core.metric import Metric, TrainingTranslations
from medganbench.errors import RunError, UsageError
from medganbench.run.budget import Ledger
from medganbench.run.checkpoint import Checkpoint, restore_rng, rng_state
from medganbench.run.evaluate import direction_metrics, score_direction
from medganbench.run.history import HISTORY_NAME, history_from_state, history_state, write_history
from medganbench.run.options import DEFAULT_LOG_EVERY
from medganbench.run.prepare import PreparedRun, StatusSink
from medganbench.run.samples import render_sample_grid
from medganbench.run.selection import Best, improves, load_best, save_best
from medganbench.run.trackers import TrackerSet

#: The split validation scores.
VALIDATION_SPLIT = "val"
#: Least seconds between two rewrites of ``history.arrow`` after a validation (a checkpoint,
#: a divergence and the end always write it).
REWRITE_EVERY_S = 10.0


@dataclass(frozen=True)
class StepLossValues:
    """One step's losses as read from the device, with where the step stands on the budget."""

    step: int
    kimg: float
    seconds: float
    values: Mapping[str, float]


class Watch:
    """The history, validation and best checkpoint of one run (see the module).

    Args:
        prepared: the run; its ``val_metrics`` are scored on the validation split.
        trackers: where records and sample grids are mirrored (an empty set mirrors nowhere).
        checkpoint: the checkpoint training resumes from; its history and best carry on.
        log_every: steps between two records of the losses (``--log-every``).
    """

    def __init__(
        self,
        prepared: PreparedRun,
        trackers: TrackerSet,
        checkpoint: Checkpoint | None = None,
        log_every: int = DEFAULT_LOG_EVERY,
        on_status: StatusSink = lambda message: None,
    ) -> None:
        self.prepared = prepared
        self.trackers = trackers
        self.log_every = max(1, log_every)
        self.on_status = on_status
        saved: Mapping[str, Any] = checkpoint.watch if checkpoint is not None else {}
        self.records: list[HistoryRecord] = (
            history_from_state(saved["history"]) if "history" in saved else []
        )
        best = saved.get("best")
        self.best: Best | None = Best(int(best["step"]), float(best["value"])) if best else None
        self.validated_step: int | None = saved.get("validated_step")
        self._mirrored = 0
        self._written_at = -math.inf
        self._check_selection()
        if self.records:
            self.on_status(f"history: {len(self.records)} records carried on from the checkpoint")

    def _check_selection(self) -> None:
        """Refuse, before training, a ``best:METRIC`` that validation never computes: METRIC
        must be meaningful in the model's primary direction, and not a metric left out of
        validation (train on synthetic).

        Raises:
            UsageError: naming the metric, the direction and what to choose instead.
        """
        metric = self.prepared.spec.selection_metric
        if metric is None:
            return
        direction = self.prepared.model.direction
        validated = self.validated_metrics(direction)
        if metric not in validated:
            raise UsageError(
                f"--select best:{metric}: {metric} is not computed on the validation split in "
                f"the model's primary direction {direction}, so no checkpoint can be chosen by it.",
                hint=f"Choose by one of {', '.join(sorted(validated)) or 'the paired metrics'}.",
            )

    def validated_metrics(self, direction: str) -> dict[str, Metric]:
        """The validation metrics scored in ``direction``: those meaningful there, less the
        train-on-synthetic ones (they train segmenters: for the end, not every N steps)."""
        usable = direction_metrics(self.prepared, self.prepared.val_metrics, direction)
        return {n: m for n, m in usable.items() if not isinstance(m, TrainingTranslations)}

    # ----------------------------------------------------------------------------- records

    def losses(self, steps: Sequence[StepLossValues], *, last: bool = False) -> None:
        """Record the losses of the steps that are due (every ``log_every`` steps, a step with
        a non-finite loss, and with ``last`` the final one)."""
        for i, read in enumerate(steps):
            finite = all(np.isfinite(v) for v in read.values.values())
            final = last and i == len(steps) - 1
            if read.step % self.log_every == 0 or not finite or final:
                self.records.extend(
                    HistoryRecord(read.step, read.kimg, read.seconds, "loss", "", name, value)
                    for name, value in read.values.items()
                )

    def flush(self, *, force: bool = True) -> None:
        """Hand the records not yet mirrored to the trackers and write ``history.arrow``:
        always when ``force``d (checkpoints, divergence, the end), else at most every
        :data:`REWRITE_EVERY_S` seconds, as the whole file is rewritten each time and a long
        run validated often would otherwise spend more time rewriting it than validating."""
        now = time.monotonic()
        if force or now - self._written_at >= REWRITE_EVERY_S:
            write_history(self.prepared.run_dir / HISTORY_NAME, self.records)
            self._written_at = now
        new = self.records[self._mirrored :]
        if new:
            self.trackers.log_records(new)
            self._mirrored = len(self.records)

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps so that a resumed run continues exactly (plain values)."""
        return {
            "history": history_state(self.records),
            "best": self.best.as_dict() if self.best is not None else None,
            "validated_step": self.validated_step,
        }

    # -------------------------------------------------------------------------- validation

    @property
    def eval_every(self) -> int | None:
        return self.prepared.spec.eval_every

    def after_step(self, ledger: Ledger) -> None:
        """Validate if ``--eval-every`` says this step is due."""
        every = self.eval_every
        if every is not None and ledger.steps % every == 0:
            self.validate(ledger)

    def validate_last(self, ledger: Ledger) -> None:
        """Validate the last step if ``--eval-every`` is set and it was not validated yet: the
        final weights are a candidate too."""
        if self.eval_every is not None and self.validated_step != ledger.steps:
            self.validate(ledger)

    def validate(self, ledger: Ledger) -> None:
        """Score the model on the validation split in each of its directions, record the
        values, keep the best weights under ``best:`` and flush; metered as evaluation time."""
        prepared = self.prepared
        model = prepared.model
        start = time.perf_counter()
        saved_rng = rng_state()
        grid = None
        try:
            for direction in model.eval_directions:
                usable = self.validated_metrics(direction)
                if not usable:
                    continue
                results, rows = score_direction(prepared, direction, usable, VALIDATION_SPLIT)
                if direction == model.direction:
                    grid = rows
                self.records.extend(
                    HistoryRecord(
                        ledger.steps, ledger.kimg, ledger.train_seconds, "val", direction, n, v
                    )
                    for n, (v, _) in results.items()
                )
                if direction == model.direction:
                    self._consider(results, ledger.steps)
        finally:
            model.train_mode()
            restore_rng(saved_rng)
        self.validated_step = ledger.steps
        self.flush(force=False)
        if grid is not None and self.trackers:
            image = np.asarray(render_sample_grid(grid).convert("RGB"))
            self.trackers.log_image("val/samples", ledger.steps, image)
        ledger.eval_seconds += time.perf_counter() - start

    def _consider(self, results: Mapping[str, tuple[float, Any]], step: int) -> None:
        """Keep the model's weights if the selection metric improved."""
        metric_name = self.prepared.spec.selection_metric
        if metric_name is None:
            return
        value = float(results[metric_name][0])
        metric: Metric = self.prepared.val_metrics[metric_name]
        if improves(value, self.best, metric.higher_is_better):
            self.best = Best(step, value)
            save_best(
                self.prepared.run_dir,
                self.prepared.run_id,
                self.best,
                self.prepared.model.state_dict(),
            )

    # ------------------------------------------------------------------------------- end

    def finish(self, ledger: Ledger) -> int:
        """At the end of training (after :meth:`validate_last`): flush, and under ``best:``
        put the best weights back into the model.

        Returns:
            The step whose weights the model now holds.

        Raises:
            RunError: no validation value of the selection metric was a number.
        """
        self.flush()
        metric = self.prepared.spec.selection_metric
        if metric is None:
            return ledger.steps
        if self.best is None:
            raise RunError(
                f"--select {self.prepared.spec.select}: no validation value of {metric} was a "
                "number, so no checkpoint can be chosen; no result was recorded.",
                hint="Look at the run's history.arrow (medganbench show RUN_DIR).",
            )
        state = load_best(self.prepared.run_dir, self.prepared.run_id, self.best)
        self.prepared.model.load_state_dict(state)
        self.on_status(
            f"selected step {self.best.step} ({metric} {self.best.value:.4g} on the validation "
            "split)"
        )
        return self.best.step


def log_final_grids(trackers: TrackerSet, run_dir: Path, step: int) -> None:
    """Hand the sample grids evaluation wrote (``samples*.png``) to the trackers, tagged by
    their file stem, at the last step."""
    if not trackers:
        return
    for path in sorted(Path(run_dir).glob("samples*.png")):
        with Image.open(path) as grid:
            trackers.log_image(path.stem, step, np.asarray(grid.convert("RGB")))
