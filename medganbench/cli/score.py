"""``medganbench score``: score outputs made elsewhere, as a run would, on the external track."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from medganbench import defaults
from medganbench.cli.common import (
    err,
    eval_grid_option,
    leaderboard_dir_option,
    load_registries,
    out,
    threads_option,
)
from medganbench.cli.run_spec import parse_metric_args
from medganbench.core.params import parse_key_values
from medganbench.leaderboard.columns import measure_text
from medganbench.run.external import EXTERNAL_DIRECTIONS, TASKS, ExternalSpec, score_outputs
from medganbench.run.options import RunOptions


@click.command()
@click.option("--dataset", "-d", required=True, help="The dataset the outputs were made for.")
@click.option(
    "--outputs",
    "outputs_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder with one file per sample of the split: <name>.npy or <name>.png.",
)
@click.option(
    "--name",
    required=True,
    help="The model name the rows carry (lower case, digits, hyphens); not an installed model's.",
)
@click.option(
    "--model-version", "version", default="1", show_default=True, help="The version the rows carry."
)
@click.option(
    "--direction",
    type=click.Choice(EXTERNAL_DIRECTIONS),
    default="a2b",
    show_default=True,
    help="a2b: outputs are domain B images made from the exported domain A inputs.",
)
@click.option(
    "--task",
    type=click.Choice(TASKS),
    default="translate",
    show_default=True,
    help="translate: one output per input; sample: unconditional samples of the direction's "
    "target domain, one per sample of the split.",
)
@click.option(
    "--image-size", default=defaults.IMAGE_SIZE, show_default=True, type=int, help="Side length."
)
@click.option("--split", default="test", show_default=True, help="The split the outputs are for.")
@click.option(
    "--metrics", default=None, help="Comma-separated metric names; default: a run's defaults."
)
@click.option("--dataset-arg", "dataset_args", multiple=True, metavar="K=V", help="Repeatable.")
@click.option(
    "--metric-arg", "metric_args", multiple=True, metavar="METRIC.K=V", help="Repeatable."
)
@leaderboard_dir_option
@click.option(
    "--runs-dir",
    default=defaults.RUNS_DIR,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where the scoring's folder (sample grid, result) goes.",
)
@click.option("--data-dir", default=None, type=click.Path(path_type=Path), help="Dataset files.")
@click.option("--device", default=None, help="cpu, cuda or cuda:N (for the metrics).")
@threads_option
@click.option("--allow-unverified-weights", is_flag=True, help="As for `medganbench run`.")
@eval_grid_option
def score(
    dataset: str,
    outputs_dir: Path,
    name: str,
    version: str,
    direction: str,
    task: str,
    image_size: int,
    split: str,
    metrics: str | None,
    dataset_args: tuple[str, ...],
    metric_args: tuple[str, ...],
    leaderboard_dir: Path,
    runs_dir: Path,
    data_dir: Path | None,
    device: str | None,
    threads: int | None,
    allow_unverified_weights: bool,
    eval_grid: str,
) -> None:
    """Score outputs your own code made for DATASET's split, with the metrics, conventions and
    split a run uses; rows go on the leaderboard in track `external` (no budget), never ranked
    with budgeted runs.

    Get the inputs with `medganbench datasets export`. Every missing, extra or wrong-size file
    is listed in one message, and then nothing is written.
    """
    spec = ExternalSpec(
        name=name,
        outputs=outputs_dir,
        dataset=dataset,
        dataset_args=parse_key_values(dataset_args, "--dataset-arg"),
        image_size=image_size,
        split=split,
        direction=direction,
        task=task,
        metrics=tuple(m.strip() for m in (metrics or "").split(",") if m.strip()),
        metric_args=parse_metric_args(metric_args),
        version=version,
        allow_unverified_weights=allow_unverified_weights,
        eval_grid=eval_grid,
    )
    options = RunOptions(
        leaderboard_dir=leaderboard_dir,
        runs_dir=runs_dir,
        device=device,
        data_dir=data_dir,
        threads=threads,
    )
    result = score_outputs(
        spec,
        load_registries(),
        options,
        on_status=lambda m: err.print(m, markup=False, highlight=False),
    )
    table = Table(title=Text(f"{name} (external outputs) on {dataset} — run {result.run_id}"))
    for column in ("direction", "metric", "value"):
        table.add_column(column)
    for row in result.rows:
        arrow = "↑" if row.higher_is_better else "↓"
        shown = measure_text(row.metric_args, row.eval_unit, row.eval_grid)
        metric = f"{row.metric} {arrow}" + (f" ({shown})" if shown else "")
        table.add_row(row.direction, metric, f"{row.value:.4f}")
    out.print(table, markup=False)
    out.print(
        f"run directory: {result.run_dir}\nleaderboard:   {result.leaderboard} (track external)",
        markup=False,
        highlight=False,
    )
