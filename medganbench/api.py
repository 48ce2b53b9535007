"""The Python API: what the command line does, as typed functions for scripts and notebooks.

Stable from 0.2.0 under the project's deprecation policy (CHANGELOG.md); docs/api.md shows each
function at work. Every function builds the installed plugins' registries afresh, as the
command line does, and the command line calls the same functions underneath
(:func:`~medganbench.run.runner.execute_run`,
:func:`~medganbench.trained.generator.load_generator`, ...). Errors are
:class:`~medganbench.errors.MedganbenchError` subclasses whose ``message`` and ``hint`` say what
is wrong and how to fix it.

    >>> from medganbench import api
    >>> result = api.run(model="pix2pix", budget="steps=20", image_size=32)   # doctest: +SKIP
    >>> table = api.load_leaderboard(result.leaderboard)                     # doctest: +SKIP
    >>> gen = api.load_generator(result.run_dir)                             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import torch
from torch.utils.data import Dataset as TorchDataset

from medganbench import defaults
from medganbench.core.dataset import Sample
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.core.params import ArgValue
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.distributed import launched_world
from medganbench.run.export import load_split as _load_split
from medganbench.run.external import ExternalSpec, ScoreResult, score_outputs
from medganbench.run.options import RunOptions
from medganbench.run.record import RunResult
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec, default_image_size, default_metrics
from medganbench.trained.card import UNSTATED_LICENSE
from medganbench.trained.export import export_generator, push
from medganbench.trained.generator import Generator
from medganbench.trained.generator import load_generator as _load
from medganbench.trained.sampling import generate_files
from medganbench.trained.translation import Translated, translate_files

#: A generator, or the folder (run or export) to load it from.
Source = Generator | Path | str


def _board_dir(leaderboard_dir: Path | str | None) -> Path:
    """``leaderboard_dir``, or the command line's default when ``None``."""
    return Path(leaderboard_dir) if leaderboard_dir else defaults.leaderboard_dir()


def registries() -> Registries:
    """The registries of every installed plugin (built-ins, then entry points)."""
    return build_registries(make_plugin_manager())


def run(
    model: str,
    dataset: str = defaults.DATASET,
    budget: str | Budget = defaults.BUDGET,
    *,
    image_size: int | None = None,
    seed: int = 0,
    metrics: tuple[str, ...] | list[str] | None = None,
    model_args: Mapping[str, ArgValue] | None = None,
    dataset_args: Mapping[str, ArgValue] | None = None,
    metric_args: Mapping[str, Mapping[str, ArgValue]] | None = None,
    precision: str = defaults.PRECISION,
    select: str = "final",
    eval_every: int | None = None,
    leaderboard_dir: Path | str | None = None,
    runs_dir: Path | str = defaults.RUNS_DIR,
    data_dir: Path | str | None = None,
    device: str | None = None,
    threads: int | None = None,
    progress: bool = False,
    keep_checkpoint: bool = False,
    deterministic: bool = False,
    devices: int | None = None,
) -> RunResult:
    """Train, evaluate and record one run, as ``medganbench run`` does.

    On several devices, start the script with ``torchrun --nproc_per_node N`` (every process
    calls ``run``; ``devices=None`` takes torchrun's ``WORLD_SIZE``); process 0 returns the
    rows, the others a result without rows (docs/distributed.md).

    Args:
        model, dataset: registered names.
        budget: ``"steps=100"``, ``"kimg=2,seconds=600"`` or a :class:`Budget`.
        image_size: ``None`` = the dataset's own (``phantom-brain-3d``: 32), else 64.
        metrics: metric names; ``None`` = the defaults ``medganbench run`` picks.
        model_args, dataset_args: arguments by name (typed values or strings).
        metric_args: arguments per metric, e.g. ``{"lpips": {"net": "vgg"}}``.
        leaderboard_dir: ``None`` = the command line's default (``runs/leaderboards`` or
            ``$MEDGANBENCH_LEADERBOARD_DIR``).
        The rest: as the command line's options of the same names.

    Returns:
        The run id, its folder (with ``generator.safetensors``), the leaderboard file, the
        values and rows.

    Raises:
        UsageError: a bad name, argument or budget, or a run already recorded.
        DataError, RunError, LeaderboardError: as ``medganbench run``.
    """
    regs = registries()
    chosen = (
        default_metrics(regs, model, dataset, dict(dataset_args or {}))
        if metrics is None
        else tuple(metrics)
    )
    spec = RunSpec(
        model=model,
        dataset=dataset,
        model_args=dict(model_args or {}),
        dataset_args=dict(dataset_args or {}),
        metric_args={k: dict(v) for k, v in (metric_args or {}).items()},
        image_size=default_image_size(regs, dataset) if image_size is None else image_size,
        metrics=chosen,
        budget=budget if isinstance(budget, Budget) else Budget.parse(budget),
        seed=seed,
        precision=precision,
        select=select,
        eval_every=eval_every,
        devices=devices if devices is not None else launched_world().size,
    )
    options = RunOptions(
        leaderboard_dir=_board_dir(leaderboard_dir),
        runs_dir=Path(runs_dir),
        data_dir=Path(data_dir) if data_dir else None,
        device=device,
        threads=threads,
        progress=progress,
        keep_checkpoint=keep_checkpoint,
        deterministic=deterministic,
    )
    return execute_run(spec, regs, options)


def load_leaderboard(path: Path | str) -> pa.Table:
    """A leaderboard file as a ``pyarrow.Table`` (checked; older schemas upgraded in memory).

    ``.to_pandas()`` or ``polars.from_arrow(table)`` turn it into a data frame.

    Raises:
        LeaderboardError: missing, corrupt, or written by a newer medganbench.
    """
    return read_leaderboard(Path(path))


def load_split(
    dataset: str = defaults.DATASET,
    split: str = "test",
    *,
    image_size: int | None = None,
    dataset_args: Mapping[str, ArgValue] | None = None,
    data_dir: Path | str | None = None,
) -> TorchDataset[Sample]:
    """One split of a dataset as a run sees it (the same patients, slices and units): a
    map-style ``torch.utils.data.Dataset`` whose items are dicts with ``"a"`` and ``"b"``
    ((C, H, W) float tensors in physical units, HU for CT; (C, D, H, W) volumes for a volume
    dataset), ``"mask_a"``/``"mask_b"`` and,
    where the dataset declares label classes, ``"label_a"``/``"label_b"``. Wrap it in a
    ``torch.utils.data.DataLoader`` to batch it.
    """
    options = RunOptions(data_dir=Path(data_dir) if data_dir else None, progress=False)
    regs = registries()
    size = default_image_size(regs, dataset) if image_size is None else image_size
    return _load_split(
        regs, dataset, split, dataset_args=dataset_args, image_size=size, options=options,
    )  # fmt: skip


def load_generator(source: Path | str, device: str | torch.device | None = None) -> Generator:
    """The trained generator of a run folder or an export (a ``torch.nn.Module`` in evaluation
    mode; see :class:`~medganbench.trained.generator.Generator`).

    Raises:
        GeneratorFileError: missing or damaged files, a wrong hash, an unknown model or
            version, or weights that do not fit.
    """
    return _load(source, registries(), device)


def _generator(source: Source, device: str | torch.device | None) -> Generator:
    return source if isinstance(source, Generator) else load_generator(source, device)


def generate(
    source: Source,
    n: int,
    *,
    seed: int = 0,
    out: Path | str | None = None,
    fmt: str = "npy",
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """``n`` samples (n, C, S, S) in the dataset's units from an unconditional model; the same
    seed gives the same samples. With ``out``, also written there as files with a manifest,
    as ``medganbench generate`` writes them."""
    generator = _generator(source, device)
    if out is None:
        return generator.sample(n, seed)
    _, images = generate_files(generator, n, Path(out), seed, fmt)
    return images


def translate(
    source: Source,
    inputs: torch.Tensor | Path | str,
    *,
    out: Path | str | None = None,
    direction: str | None = None,
    input_units: str = "raw",
    device: str | torch.device | None = None,
) -> torch.Tensor | list[Translated]:
    """Translate with a trained translation model.

    Args:
        inputs: a tensor (N, C, S, S) in the source domain's units, or a file or folder of
            images and volumes (then ``out`` is required), as ``medganbench translate`` takes.

    Returns:
        The translated tensor in the target domain's units, or, for files, what was written.
    """
    generator = _generator(source, device)
    if isinstance(inputs, torch.Tensor):
        return generator.translate(inputs, direction)
    if out is None:
        raise TypeError("translate(files) needs out=FOLDER")
    return translate_files(generator, Path(inputs), Path(out), direction, input_units)


def score(
    outputs: Path | str,
    *,
    dataset: str,
    name: str,
    direction: str = "a2b",
    task: str = "translate",
    split: str = "test",
    image_size: int = defaults.IMAGE_SIZE,
    metrics: tuple[str, ...] | list[str] = (),
    dataset_args: Mapping[str, ArgValue] | None = None,
    metric_args: Mapping[str, Mapping[str, ArgValue]] | None = None,
    leaderboard_dir: Path | str | None = None,
    runs_dir: Path | str = defaults.RUNS_DIR,
    device: str | None = None,
) -> ScoreResult:
    """Score outputs made elsewhere (one file per sample of the split, as ``medganbench
    datasets export`` names them), as ``medganbench score`` does: rows in track ``external``."""
    spec = ExternalSpec(
        name=name,
        outputs=Path(outputs),
        dataset=dataset,
        dataset_args=dict(dataset_args or {}),
        image_size=image_size,
        split=split,
        direction=direction,
        task=task,
        metrics=tuple(metrics),
        metric_args={k: dict(v) for k, v in (metric_args or {}).items()},
    )
    options = RunOptions(
        leaderboard_dir=_board_dir(leaderboard_dir),
        runs_dir=Path(runs_dir),
        device=device,
        progress=False,
    )
    return score_outputs(spec, registries(), options)


def export(
    source: Path | str,
    out: Path | str,
    *,
    license: str = UNSTATED_LICENSE,
    leaderboard_dir: Path | str | None = None,
    push_to: str | None = None,
) -> Path:
    """Write a portable export of a run's generator (safetensors, config, model card), as
    ``medganbench export`` does; with ``push_to="ORG/NAME"``, upload it to the Hub too."""
    folder = export_generator(
        Path(source),
        Path(out),
        registries(),
        leaderboard_dir=_board_dir(leaderboard_dir),
        license=license,
    )
    if push_to is not None:
        push(folder, push_to)
    return folder


__all__ = [
    "Budget",
    "Generator",
    "RunResult",
    "ScoreResult",
    "Translated",
    "export",
    "generate",
    "load_generator",
    "load_leaderboard",
    "load_split",
    "registries",
    "run",
    "score",
    "translate",
]
