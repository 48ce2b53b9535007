"""``medganbench run``: one run, or the resumption of an interrupted one."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from medganbench import defaults
from medganbench.cli.common import (
    RunInterrupted,
    err,
    eval_grid_option,
    leaderboard_dir_option,
    load_registries,
    out,
    threads_option,
)
from medganbench.cli.record_options import training_record_options
from medganbench.cli.run_spec import spec_from_options
from medganbench.core.manager import Registries
from medganbench.errors import MedganbenchError, UsageError
from medganbench.leaderboard.columns import measure_text
from medganbench.run.distributed import launched_world
from medganbench.run.launch import launch
from medganbench.run.options import RunOptions
from medganbench.run.record import resume_command
from medganbench.run.resume import SPEC_NAME, spec_from_run_dir
from medganbench.run.runner import execute_run
from medganbench.run.spec import PRECISIONS, RunSpec, resolve_run


@click.command()
@click.option(
    "--model",
    "-m",
    default=None,
    help="Registered model name (see `medganbench list models`); required unless --resume.",
)
@click.option(
    "--dataset", "-d", default=defaults.DATASET, show_default=True, help="Registered dataset name."
)
@click.option(
    "--budget",
    default=defaults.BUDGET,
    show_default=True,
    help="steps=N,kimg=K,seconds=S: the first limit reached stops training.",
)
@click.option(
    "--image-size",
    default=None,
    type=int,
    help=f"Side length of the square images (of the cube, for volumes). Default: the dataset's "
    f"(phantom-brain-3d: 32), else {defaults.IMAGE_SIZE}.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds every RNG of the run.")
@click.option(
    "--device", default=None, help="cpu, cuda or cuda:N; default CUDA when present, else CPU."
)
@threads_option
@click.option(
    "--metrics",
    default=None,
    help="Comma-separated metric names. Default: they follow the data. Translation on paired "
    f"data: {','.join(defaults.PAIRED_METRICS)}; on unpaired data: "
    f"{','.join(defaults.UNPAIRED_METRICS)} for A→B and B→A, plus "
    f"{','.join(defaults.ROUND_TRIP_METRICS)} on the round trips of cycle models; sampling "
    f"models: {','.join(defaults.SAMPLING_METRICS)}.",
)
@leaderboard_dir_option
@click.option(
    "--runs-dir",
    default=defaults.RUNS_DIR,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Directory of the per-run outputs (checkpoints, sample grid).",
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Where the dataset's files are (for datasets you download yourself).",
)
@click.option(
    "--model-arg", "model_args", multiple=True, metavar="K=V", help="Model argument; repeatable."
)
@click.option(
    "--dataset-arg",
    "dataset_args",
    multiple=True,
    metavar="K=V",
    help="Dataset argument; repeatable.",
)
@click.option(
    "--metric-arg",
    "metric_args",
    multiple=True,
    metavar="METRIC.K=V",
    help="Metric argument, e.g. lpips.net=vgg; repeatable.",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=defaults.PRECISION,
    show_default=True,
    help="Training precision: bf16 autocast or fp32; auto = bf16 on CUDA GPUs and CPUs with native bf16 (AVX-512 BF16, AMX, Arm BF16), fp32 elsewhere. Metrics are always computed in fp32 or wider.",
)
@click.option("--amp/--no-amp", "legacy_amp", default=None, hidden=True)
@click.option(
    "--channels-last/--no-channels-last",
    default=True,
    show_default=True,
    help="Channels-last memory format on CUDA.",
)
@click.option("--progress/--no-progress", default=True, help="Show the progress bar.")
@click.option(
    "--resume",
    "resume_dir",
    default=None,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="RUN_DIR",
    help="Continue the run in RUN_DIR (runs/<run id>) from its last checkpoint; its spec.json gives the spec.",
)
@click.option(
    "--checkpoint-every",
    default=None,
    type=click.IntRange(min=1),
    metavar="STEPS",
    help="Steps between checkpoints [default: a quarter of a step budget, else 500].",
)
@click.option(
    "--deterministic",
    is_flag=True,
    help="Deterministic algorithms only, so repeated or resumed runs agree bit for bit.",
)
@click.option(
    "--keep-checkpoint",
    is_flag=True,
    help="Keep the final checkpoint (all networks and optimiser states, hundreds of MB) once the "
    "rows are recorded; by default it is deleted then.",
)
@click.option(
    "--allow-unverified-weights",
    is_flag=True,
    help="Let metrics use a weights file (MEDGANBENCH_WEIGHTS_<NAME>) whose sha256 matches no "
    "pinned source; its rows record the file's own hash and that it was not verified.",
)
@click.option(
    "--devices",
    default=None,
    type=click.IntRange(min=1),
    metavar="N",
    help="Train the run on N devices (N processes, one per GPU; on a CPU, N processes), started "
    "with torchrun; in the run id above 1 [default: torchrun's WORLD_SIZE, else 1].",
)
@eval_grid_option
@training_record_options
@click.pass_context
def run(
    ctx: click.Context,
    model: str | None,
    dataset: str,
    budget: str,
    image_size: int | None,
    seed: int,
    device: str | None,
    threads: int | None,
    metrics: str | None,
    leaderboard_dir: Path,
    runs_dir: Path,
    data_dir: Path | None,
    model_args: tuple[str, ...],
    dataset_args: tuple[str, ...],
    metric_args: tuple[str, ...],
    precision: str,
    legacy_amp: bool | None,
    channels_last: bool,
    progress: bool,
    resume_dir: Path | None,
    checkpoint_every: int | None,
    deterministic: bool,
    keep_checkpoint: bool,
    allow_unverified_weights: bool,
    eval_grid: str,
    eval_every: int | None,
    select: str,
    log_every: int,
    trackers: tuple[str, ...],
    devices: int | None,
) -> None:
    """Train MODEL on DATASET under a fixed budget, evaluate it and append to the leaderboard.

    With --resume RUN_DIR, continue an interrupted run from its last checkpoint instead; the
    result is the one the uninterrupted run would have recorded.

    Diffusion models (ddpm) sample with 1000 denoising steps per image by default: on a CPU one
    evaluation at 64 px takes hours (32 samples × 10 DDIM steps took 322 s on a 2-vCPU Xeon;
    1000 steps are 100 times as many denoiser calls). On a CPU pass --model-arg sampler=ddim
    --model-arg sample_steps=20 (both are in the run id). Every long phase shows progress: a
    bar per phase on a terminal, a line at least every 30 s with --no-progress.

    --devices N trains one run on N devices (data parallel, docs/distributed.md): the budget
    still counts optimiser steps and global images, and the rows record the devices.
    `torchrun --nproc_per_node N -m medganbench run ...` does the same.
    """
    if legacy_amp is not None:
        raise UsageError(
            "--amp/--no-amp were replaced by --precision.",
            hint="--no-amp is --precision fp32; the default, --precision auto, uses bf16 where the device has it natively.",
        )
    registries = load_registries()
    world = launched_world()
    if resume_dir is not None:
        spec, runs_dir = _resumed_spec(ctx, resume_dir, registries)
        model, dataset = spec.model, spec.dataset
        if devices is not None and devices != spec.devices:
            raise UsageError(
                f"Run {resume_dir} was started on {spec.devices} device(s); it continues exactly "
                f"only on {spec.devices}, not on {devices}.",
                hint=f"Resume it with --devices {spec.devices}, or start a new run.",
            )
    elif model is None:
        raise UsageError("Missing option --model.", hint="Example: medganbench run --model hlsnc")
    else:
        spec = spec_from_options(
            registries,
            model,
            dataset=dataset,
            budget=budget,
            image_size=image_size,
            seed=seed,
            metrics=metrics,
            model_args=model_args,
            dataset_args=dataset_args,
            metric_args=metric_args,
            precision=precision,
            channels_last=channels_last,
            allow_unverified_weights=allow_unverified_weights,
            eval_grid=eval_grid,
            select=select,
            eval_every=eval_every,
            devices=devices if devices is not None else world.size,
        )
    options = RunOptions(
        leaderboard_dir=leaderboard_dir,
        runs_dir=runs_dir,
        device=device,
        progress=progress,
        data_dir=data_dir,
        checkpoint_every=checkpoint_every,
        resume=resume_dir is not None,
        deterministic=deterministic,
        keep_checkpoint=keep_checkpoint,
        threads=threads,
        log_every=log_every,
        trackers=trackers,
    )
    run_dir = resume_dir or runs_dir / resolve_run(spec, registries).run_id
    if spec.devices > 1 and not world.distributed:
        _launch_workers(spec.devices, run_dir)
        return
    try:
        result = execute_run(
            spec,
            registries,
            options,
            on_status=lambda m: err.print(m, markup=False, highlight=False),
        )
    except KeyboardInterrupt:
        raise RunInterrupted(run_dir, resume_command(run_dir, options)) from None
    if not world.main:
        return  # process 0 of the run reports it
    chosen = result.rows[0]
    protocol = (
        f", scored at step {chosen.selected_step} ({chosen.protocol})"
        if chosen.protocol != "final"
        else ""
    )
    table = Table(title=Text(f"{model} on {dataset} — run {result.run_id}{protocol}"))
    table.add_column("direction")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for row in result.rows:
        arrow = "↑" if row.higher_is_better else "↓"
        shown = measure_text(row.metric_args, row.eval_unit, row.eval_grid)
        name = f"{row.metric} {arrow}" + (f" ({shown})" if shown else "")
        table.add_row(row.direction, name, f"{row.value:.4f}")
    out.print(table, markup=False)
    out.print(
        f"run directory: {result.run_dir}\nleaderboard:   {result.leaderboard}",
        markup=False,
        highlight=False,
    )


def _launch_workers(devices: int, run_dir: Path) -> None:
    """Run this command line again as ``devices`` processes (torchrun's launcher) and end
    with the run's one message if it failed.

    Raises:
        UsageError: this command was not started from a command line (``medganbench.api``).
        MedganbenchError: the run failed; its first cause.
    """
    argv = sys.argv[1:]
    if "run" not in argv:
        raise UsageError(
            f"A run on {devices} devices starts its processes from the command line.",
            hint=f"Use `medganbench run ... --devices {devices}` or torchrun.",
        )
    failure = launch(devices, argv, run_dir)
    if failure is not None:
        error = MedganbenchError(failure.message, hint=failure.hint)
        error.exit_code = failure.exit_code
        raise error


# The options that make up a run's spec; with --resume the spec comes from the run directory.
_SPEC_OPTIONS = (
    "model",
    "dataset",
    "budget",
    "image_size",
    "seed",
    "metrics",
    "model_args",
    "dataset_args",
    "metric_args",
    "precision",
    "channels_last",
    "runs_dir",
    "allow_unverified_weights",
    "eval_grid",
    "eval_every",
    "select",
)


def _resumed_spec(
    ctx: click.Context, run_dir: Path, registries: Registries
) -> tuple[RunSpec, Path]:
    """The spec recorded in ``run_dir`` and the runs directory holding it.

    Raises:
        UsageError: spec options were given too, or see
            :func:`~medganbench.run.resume.spec_from_run_dir`.
    """
    given = [
        param.opts[0]
        for param in ctx.command.params
        if param.name in _SPEC_OPTIONS
        and ctx.get_parameter_source(param.name) is not click.core.ParameterSource.DEFAULT
    ]
    if given:
        flags = ", ".join(given)
        raise UsageError(
            f"--resume takes the run's spec from {run_dir / SPEC_NAME}; do not also give {flags}.",
            hint="Run options (--device, --threads, --leaderboard-dir, --data-dir, --deterministic) "
            "may be given.",
        )
    return spec_from_run_dir(run_dir, registries)
