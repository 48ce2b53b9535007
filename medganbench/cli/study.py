"""``medganbench study``: build a blinded reader study from runs, and score readers' answers."""

from __future__ import annotations

from pathlib import Path

import click

from medganbench import defaults
from medganbench.cli.common import err, leaderboard_dir_option, load_registries, out
from medganbench.errors import UsageError
from medganbench.leaderboard.schema import rows_from_table
from medganbench.leaderboard.store import (
    AlreadyRecordedError,
    append_rows,
    leaderboard_path,
    read_leaderboard,
)
from medganbench.study.create import create_study
from medganbench.study.formats import KEY_NAME, READER_DIR
from medganbench.study.rows import reader_study_rows, run_rows_of
from medganbench.study.score import score_study, summary_lines


@click.group()
def study() -> None:
    """Reader studies: can readers tell a run's images from real ones? (docs/reader-study.md)"""


@study.command("create")
@click.option(
    "--runs",
    "run_ids",
    required=True,
    help="Comma-separated run ids (folders under --runs-dir) or run folders.",
)
@click.option(
    "--n", "n", required=True, type=int, help="Trials per run: half real, half synthetic."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The study folder to write (new or empty).",
)
@click.option(
    "--runs-dir",
    default=defaults.RUNS_DIR,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where the runs' folders are.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Chooses and orders trials.")
@click.option("--quality", is_flag=True, help="Also ask a quality score 1 to 5 per image.")
@click.option("--title", default=None, help="Shown to readers; must not name the models.")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path), help="Dataset files.")
@click.option("--device", default="cpu", show_default=True, help="Where the generators run.")
def create(
    run_ids: str,
    n: int,
    out: Path,
    runs_dir: Path,
    seed: int,
    quality: bool,
    title: str | None,
    data_dir: Path | None,
    device: str,
) -> None:
    """Build a blinded, randomised real-vs-synthetic study of the runs RUN_IDS in OUT.

    Give OUT/reader/ to the readers (open index.html from disk; nothing is fetched); keep
    OUT/key.json, the answer key, to yourself.
    """
    names = [r.strip() for r in run_ids.split(",") if r.strip()]
    if not names:
        raise UsageError("--runs names no run.", hint="Give run ids, comma-separated.")
    folders = [Path(r) if Path(r).is_dir() else runs_dir / r for r in names]
    key = create_study(
        folders,
        n,
        out,
        seed=seed,
        quality=quality,
        title=title,
        device=device,
        data_dir=data_dir,
        registries=load_registries(),
    )
    err.print(
        f"study {key.study_sha256[:12]}: {len(key.trials)} trials of {len(key.runs)} run(s) in "
        f"{out}\n  give readers: {out / READER_DIR} (open index.html)\n"
        f"  keep:         {out / KEY_NAME} (the answer key)",
        markup=False,
        highlight=False,
    )


@study.command("score")
@click.argument("study_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("answers", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@leaderboard_dir_option
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="Append the reader-study rows to the runs' leaderboard.",
)
def score(study_dir: Path, answers: tuple[Path, ...], leaderboard_dir: Path, record: bool) -> None:
    """Score the readers' ANSWERS files of the study in STUDY_DIR: accuracy, sensitivity,
    specificity, AUC from the confidence ratings, binomial tests and inter-reader kappa, per
    run; recorded as rows of the `reader-study` track (never ranked with computed metrics)."""
    scores = score_study(study_dir, list(answers))
    out.print("\n".join(summary_lines(scores)), markup=False, highlight=False)
    if not record:
        return
    datasets = {str(identity.get("dataset")) for identity in scores.key.runs.values()}
    if len(datasets) != 1:
        raise UsageError(f"The study's runs name {len(datasets)} datasets; expected one.")
    board = leaderboard_path(leaderboard_dir, datasets.pop())
    recorded = rows_from_table(read_leaderboard(board)) if board.is_file() else []
    rows = reader_study_rows(scores, run_rows_of(recorded, scores.key))
    try:
        append_rows(board, rows, unless_recorded=True)
    except AlreadyRecordedError:
        raise UsageError(
            f"This study's rows are already on {board}.",
            hint="Each study is recorded once; score with --no-record to see other answers.",
        ) from None
    err.print(f"{len(rows)} reader-study rows appended to {board}", markup=False, highlight=False)
