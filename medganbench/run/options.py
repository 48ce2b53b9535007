"""How to run, as opposed to what: the one options type of runs, sweeps and trial requests."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from medganbench import defaults

#: Steps between two records of the training losses without ``--log-every``.
DEFAULT_LOG_EVERY = 10


@dataclass(frozen=True)
class RunOptions:
    """Where to write and how to run (none of this enters the run id).

    A sweep takes the same options and hands them, unchanged, to every trial it runs; the trial
    derives its worker's view with :meth:`for_trial`.

    Attributes:
        leaderboard_dir: where ``<dataset>.arrow`` lives.
        runs_dir: parent of the per-run directories (shared storage for a multi-machine sweep).
        device: ``None`` picks CUDA when present, else CPU.
        checkpoint_every: steps between checkpoints; ``None`` = every quarter of a step budget
            (or every 500 steps without one). A final checkpoint is always written.
        progress: show the rich progress bar.
        cache_dir: cache root (datasets, weights); ``None`` = :func:`medganbench_home`.
        data_dir: where the dataset's files are (``--data-dir``); where the data live does not
            change a result (the dataset fingerprint on the row does), so it is not part of the
            run id.
        resume: continue from the run directory's checkpoint if there is one (else start at
            step 0). The resumed run ends with the same result as an uninterrupted one.
        deterministic: make torch use deterministic algorithms only (and fail on an operation
            that has none), so that two runs of one spec on one machine agree bit for bit.
        record: append the rows to the leaderboard. Sweep workers turn it off and hand the rows
            to the sweep, which is the leaderboard's single writer.
        keep_checkpoint: keep the final checkpoint (all networks and optimiser states, hundreds
            of MB) once the run's rows are recorded; by default it is deleted then, as nothing
            needs it (a run whose rows could not be recorded keeps it for ``--resume``).
        threads: torch's CPU threads during the run (``--threads``); ``None`` = the default
            policy (:func:`~medganbench.run.threads.run_threads`: ``OMP_NUM_THREADS`` if set,
            else on a CPU the cores other processes leave free at the start). The count can change a trained model's last digits, so
            it is recorded in the rows' ``device``, not in the run id.
        log_every: steps between two records of the training losses in the run's history
            (``--log-every``; the step where a loss becomes non-finite and the last step are
            always recorded). Not in the run id: it changes no row.
        trackers: the tracker plugins that mirror the history (``--tracker``; see
            :mod:`medganbench.core.tracker`). Not in the run id.
    """

    leaderboard_dir: Path = field(default_factory=defaults.leaderboard_dir)
    runs_dir: Path = defaults.RUNS_DIR
    device: str | None = None
    checkpoint_every: int | None = None
    progress: bool = True
    cache_dir: Path | None = None
    data_dir: Path | None = None
    resume: bool = False
    deterministic: bool = False
    record: bool = True
    keep_checkpoint: bool = False
    threads: int | None = None
    log_every: int = DEFAULT_LOG_EVERY
    trackers: tuple[str, ...] = ()

    def absolute(self) -> RunOptions:
        """These options with every directory made absolute against this process's working
        directory, for workers that run elsewhere: another working directory (a Ray worker's),
        or another machine that mounts the same storage at the same path."""

        def anchored(path: Path | None) -> Path | None:
            return None if path is None else Path(path).absolute()

        return dataclasses.replace(
            self,
            leaderboard_dir=Path(self.leaderboard_dir).absolute(),
            runs_dir=Path(self.runs_dir).absolute(),
            cache_dir=anchored(self.cache_dir),
            data_dir=anchored(self.data_dir),
        )

    def for_trial(self) -> RunOptions:
        """The options a sweep trial runs with: resume its checkpoint, no bar, rows handed back."""
        return dataclasses.replace(self, progress=False, resume=True, record=False)
