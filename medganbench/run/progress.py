"""The training progress bar: budget fraction, current losses and time left to the budget."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from medganbench.run.budget import Budget, Ledger


class TrainingProgress:
    """A rich progress bar over the fraction of the budget used (a no-op when disabled)."""

    def __init__(
        self, budget: Budget, *, enabled: bool = True, console: Console | None = None
    ) -> None:
        self.budget = budget
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]training[/] {task.fields[steps]}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}% of budget"),
                TextColumn("{task.fields[losses]}", markup=False),
                TextColumn("[cyan]{task.fields[eta]}"),
                console=console or Console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> TrainingProgress:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(
                "training", total=1.0, steps=f"(budget {self.budget})", losses="", eta=""
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, ledger: Ledger) -> None:
        """Show the ledger's state; the time left is extrapolated from the training time so far."""
        if self._progress is None or self._task is None:
            return
        fraction = ledger.fraction(self.budget)
        eta = ""
        if fraction > 0:
            left = ledger.train_seconds * (1.0 - fraction) / fraction
            eta = f"~{left:.0f} s to budget"
        losses = "  ".join(f"{k} {v:.4g}" for k, v in ledger.losses.items())
        self._progress.update(
            self._task,
            completed=fraction,
            steps=f"step {ledger.steps}",
            losses=losses,
            eta=eta,
        )
