"""Publishing leaderboards as a static site: plain HTML, CSS and JS, no server, no network.

The site is built in a temporary sibling of the output directory and moved into place at the
end, so a failure leaves the previous site (or nothing) rather than half a site. The output
directory carries a marker file; an existing directory without it is never replaced, so a
mistyped ``--out`` cannot delete someone's files.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc
from PIL import Image

from medganbench.core.manager import Registries
from medganbench.core.names import contained, is_component_name, is_file_stem
from medganbench.data.images import oversize
from medganbench.errors import LeaderboardError, UsageError
from medganbench.leaderboard.naming import PLAIN, Naming, naming_for
from medganbench.leaderboard.seeds import aggregate_groups
from medganbench.leaderboard.store import read_leaderboard
from medganbench.site import pages
from medganbench.site.assets import SITE_CSS, SITE_JS
from medganbench.site.history import RunHistory, load_history
from medganbench.site.html import page
from medganbench.site.locations import location_names
from medganbench.site.reproduce import reproduce
from medganbench.site.runs import primary_first, run_body

if TYPE_CHECKING:
    from medganbench.core.specs import ReportedResult

#: Marks a directory as a medganbench site, so publishing may replace it.
MARKER = ".medganbench-site"
#: The run folder's figures the run page shows: file-name prefix, and what the rows show.
_FIGURES = (
    ("samples", "inputs, outputs and targets (rows)"),
    (
        "nearest",
        "memorisation audit: the generated images closest to a training image (top row) above "
        "those training images (bottom row)",
    ),
)
#: What a sampler's sample grid shows (it has no input).
_SAMPLED = "a real image, samples and the real images they are scored against (rows)"
#: Longest side of a sample-grid thumbnail, in pixels.
THUMBNAIL_PX = 768


@dataclass(frozen=True)
class SiteSummary:
    """What was published.

    Attributes:
        out: the site's directory.
        datasets: dataset pages written.
        groups: comparable groups shown.
        runs: run pages written.
        images: sample-grid thumbnails written.
        reported: reported-in-paper rows shown.
        bytes: total size of the site.
    """

    out: Path
    datasets: int
    groups: int
    runs: int
    images: int
    reported: int
    bytes: int


def publish_site(
    boards: Sequence[Path],
    out: Path,
    *,
    runs_dir: Path | None = None,
    registries: Registries | None = None,
    reported: Sequence[ReportedResult] = (),
    generated: str | None = None,
) -> SiteSummary:
    """Write the static site of ``boards`` to ``out``.

    Args:
        boards: leaderboard files (one per dataset).
        out: the site directory; created, or replaced if it holds an earlier site.
        runs_dir: where the run directories are (sample grids, spec.json); runs without one get
            a page without images.
        registries: the installed components, used to shorten and check reproduce commands.
        reported: numbers reported in the source papers, shown apart from measured rankings.
        generated: the "generated on" text; default: now, in UTC.

    Returns:
        Counts of what was written.

    Raises:
        LeaderboardError: a leaderboard cannot be read.
        UsageError: ``out`` exists, is not empty and is not a medganbench site.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UsageError(
            f"{out} exists and is not a medganbench site; refusing to replace it.",
            hint="Choose an empty or new directory for --out.",
        )
    generated = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    staging = out.parent / f".{out.name}.building-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        summary = _build(boards, staging, runs_dir, registries, reported, generated)
        (staging / MARKER).write_text("written by medganbench leaderboard publish\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return SiteSummary(out, summary[0], summary[1], summary[2], summary[3], summary[4], total)


def _build(
    boards: Sequence[Path],
    site: Path,
    runs_dir: Path | None,
    registries: Registries | None,
    reported: Sequence[ReportedResult],
    generated: str,
) -> tuple[int, int, int, int, int]:
    (site / "assets").mkdir()
    (site / "assets" / "site.css").write_text(SITE_CSS, encoding="utf-8")
    (site / "assets" / "site.js").write_text(SITE_JS, encoding="utf-8")
    (site / "datasets").mkdir()
    (site / "runs").mkdir()

    reported_by_dataset: dict[str, list[ReportedResult]] = defaultdict(list)
    for result in reported:
        reported_by_dataset[result.dataset].append(result)

    facts: dict[str, dict[str, Any]] = {}
    n_groups = n_runs = n_images = 0
    seen: set[str] = set()
    for board in boards:
        table = read_leaderboard(board)
        table = table.filter(pc.equal(table["status"], "ok"))
        datasets = set(table.column("dataset").to_pylist())
        if len(datasets) > 1:
            raise LeaderboardError(f"{board} mixes datasets ({', '.join(sorted(datasets))}).")
        dataset = datasets.pop() if datasets else Path(board).stem
        if not is_component_name(dataset):
            raise LeaderboardError(f"{board} is not named after a dataset; it was not published.")
        if dataset in seen:
            raise UsageError(
                f"Two leaderboards of dataset {dataset!r} were given; merge them first.",
                hint="medganbench leaderboard merge A.arrow B.arrow --out merged.arrow",
            )
        seen.add(dataset)
        groups = aggregate_groups(table)
        naming = naming_for(table, registries) if registries is not None else PLAIN
        by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in table.to_pylist():
            by_run[row["run_id"]].append(row)
        # Read once, for the dataset page's curves and the run pages; each history is cut down
        # to a few hundred points per curve as it is read, so all of them fit in memory.
        histories: dict[str, RunHistory] = {}
        for run_id in by_run:
            folder = _run_folder(runs_dir, run_id)
            if (
                runs_dir is not None
                and folder is not None
                and (history := load_history(runs_dir, folder)) is not None
            ):
                histories[run_id] = history
        body = pages.dataset_body(
            groups, reported_by_dataset.get(dataset, []), len(by_run), naming, histories
        )
        _write(
            site / pages.dataset_file(dataset),
            page(f"{dataset} leaderboard", body, root="../", generated=generated),
        )
        for run_id, rows in by_run.items():
            n_images += _run_page(
                site, run_id, rows, runs_dir, registries, generated, naming, histories.get(run_id)
            )
        facts[dataset] = {
            "runs": len(by_run),
            "groups": len(groups),
            "models": sorted({r[0]["model"] for r in by_run.values()}),
            "reported": len(reported_by_dataset.get(dataset, [])),
        }
        n_groups += len(groups)
        n_runs += len(by_run)
    # Datasets with reported numbers but no measured run still get a page.
    for dataset, results in reported_by_dataset.items():
        if dataset not in facts:
            body = pages.dataset_body([], results, 0)
            _write(
                site / pages.dataset_file(dataset),
                page(f"{dataset} leaderboard", body, root="../", generated=generated),
            )
            facts[dataset] = {"runs": 0, "groups": 0, "models": [], "reported": len(results)}
    _write(
        site / "index.html",
        page("Leaderboards", pages.index_body(facts), root="", generated=generated),
    )
    return len(facts), n_groups, n_runs, n_images, len(reported)


def _run_page(
    site: Path,
    run_id: str,
    rows: list[dict[str, Any]],
    runs_dir: Path | None,
    registries: Registries | None,
    generated: str,
    naming: Naming = PLAIN,
    history: RunHistory | None = None,
) -> int:
    """Write a run's page and its thumbnails; return how many thumbnails."""
    run_dir = _run_folder(runs_dir, run_id)
    spec_json = None
    images: list[tuple[str, str]] = []
    if runs_dir is not None and run_dir is not None:
        spec_file = run_dir / "spec.json"
        try:
            loaded = json.loads(spec_file.read_text()) if contained(runs_dir, spec_file) else None
        except (OSError, ValueError, UnicodeDecodeError):
            loaded = None
        spec_json = loaded if isinstance(loaded, dict) else None
        # The primary direction's grid (no suffix) first, then the others in the run's order.
        order = list(dict.fromkeys(r["direction"] for r in primary_first(rows)))
        sampler = naming.is_sampler(rows[0]["model"], rows[0]["model_args"])
        for prefix, what in _FIGURES:
            grids = []
            for grid in run_dir.glob(f"{prefix}*.png"):
                direction = grid.stem.removeprefix(prefix).removeprefix("-") or order[0]
                rank = order.index(direction) if direction in order else len(order)
                grids.append((rank, grid.name, grid, direction))
            for _, _, grid, direction in sorted(grids):
                if not (is_file_stem(grid.stem) and contained(runs_dir, grid)):
                    continue
                target = site / "runs" / run_id / grid.name
                if _thumbnail(grid, target):
                    named = naming.row_direction({**rows[0], "direction": direction})
                    said = _SAMPLED if sampler and prefix == "samples" else what
                    images.append((f"{run_id}/{grid.name}", f"{named}: {said}"))
    body = run_body(
        rows,
        images,
        spec_json,
        reproduce(rows, spec_json, registries),
        naming,
        private=location_names(rows[0]["dataset"], registries),
        history=history,
    )
    _write(
        site / pages.run_file(run_id), page(f"Run {run_id}", body, root="../", generated=generated)
    )
    return len(images)


def _run_folder(runs_dir: Path | None, run_id: str) -> Path | None:
    """The run's folder, if there is one that really lies in the runs folder: a symlink in a
    shared runs folder must not pull files from elsewhere into a published site."""
    if runs_dir is None:
        return None
    folder = runs_dir / run_id
    return folder if folder.is_dir() and contained(runs_dir, folder) else None


def _thumbnail(source: Path, target: Path) -> bool:
    """A downscaled PNG copy of ``source`` (at most :data:`THUMBNAIL_PX`); False if unreadable."""
    try:
        with Image.open(source) as image:
            # A sample grid from a shared runs folder may be a decompression bomb: its declared
            # size is checked before anything is decoded.
            if oversize(image.width, image.height) is not None:
                return False
            image.load()
            thumb = image.copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
    # Nearest neighbour: a grid of small medical images must not be smoothed into mush.
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.NEAREST)
    target.parent.mkdir(parents=True, exist_ok=True)
    thumb.save(target, format="PNG", optimize=True)
    return True


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
