"""``medganbench export``: a trained generator as a portable folder, optionally pushed to a Hub.

The folder holds ``generator.safetensors`` and ``generator.json`` (verified, then copied from
the run folder or another export) and ``README.md``, the model card (:mod:`~medganbench.trained.card`).
It is what :func:`~medganbench.trained.generator.load_generator`, ``generate`` and ``translate``
take, here or on another machine. ``push`` uploads it to a Hugging Face Hub model repository
with ``huggingface_hub`` (optional: ``pip install 'medganbench[hub]'``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from medganbench.core.manager import Registries
from medganbench.errors import LeaderboardError, UsageError
from medganbench.fileio import write_bytes
from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from medganbench.run.generator_files import (
    GENERATOR_CONFIG,
    GENERATOR_WEIGHTS,
    GeneratorConfig,
    read_generator,
    write_generator,
)
from medganbench.site.hub import authenticated_api, uploading
from medganbench.trained.card import UNSTATED_LICENSE, model_card
from medganbench.trained.generator import build_generator
from medganbench.trained.outputs import prepare_out

CARD_NAME = "README.md"
_LICENSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$")


def run_rows(config: GeneratorConfig, leaderboard_dir: Path) -> tuple[list[dict[str, Any]], str]:
    """The leaderboard rows of the generator's run, and where they were looked for (no rows if
    the leaderboard is missing or unreadable: the card says so)."""
    board = leaderboard_path(leaderboard_dir, config.dataset)
    try:
        table = read_leaderboard(board)
    except LeaderboardError:
        return [], str(board)
    mine = table.filter(pc.equal(table["run_id"], config.run_id))
    return mine.to_pylist(), str(board)


def export_generator(
    source: Path,
    out: Path,
    registries: Registries,
    *,
    leaderboard_dir: Path,
    license: str = UNSTATED_LICENSE,
) -> Path:
    """Verify the generator of ``source`` (it must load: hashes, model, shapes), then write the
    export folder ``out``; return it.

    Raises:
        GeneratorFileError: ``source``'s generator files are missing or do not load.
        UsageError: a licence that is not an SPDX-like identifier; ``out`` is ``source``.
        StorageError: ``out`` is unusable.
    """
    if not _LICENSE.match(license):
        raise UsageError(
            f"--license {license!r} is not a licence identifier.",
            hint="Use an SPDX identifier (cc-by-4.0, mit, apache-2.0) or 'other'.",
        )
    if out.resolve() == Path(source).resolve():
        raise UsageError(f"--out {out} is the folder being exported; choose another.")
    files = read_generator(Path(source))
    # Building it proves the files rebuild the model installed here; the bytes written are
    # the ones whose hash was checked, never read again.
    build_generator(files, registries, "cpu", str(source))
    config = files.config
    rows, board = run_rows(config, leaderboard_dir)
    prepare_out(out)
    write_generator(out, config, files.weights)
    write_bytes(out / CARD_NAME, model_card(config, rows, license, board).encode("utf-8"))
    return out


def push(folder: Path, repo_id: str) -> str:
    """Upload an export folder to the Hub model repository ``repo_id`` (created if missing).

    Returns:
        The repository's URL.

    Raises:
        UsageError: ``repo_id`` is not ``ORG/NAME`` or ``huggingface_hub`` is missing.
        PublishError: no credentials, no network, or the Hub refused the upload.
    """
    if repo_id.count("/") != 1 or not all(
        re.fullmatch(r"[A-Za-z0-9._-]{1,96}", p) for p in repo_id.split("/")
    ):
        raise UsageError(f"--push {repo_id!r} is not of the form ORG/NAME.")
    api = authenticated_api("--push")
    with uploading(f"the Hub model {repo_id}", "the export folder was written locally and stays"):
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        api.upload_folder(
            folder_path=str(Path(folder).resolve()),
            repo_id=repo_id,
            repo_type="model",
            allow_patterns=[GENERATOR_WEIGHTS, GENERATOR_CONFIG, CARD_NAME],
            commit_message="medganbench: export trained generator",
        )
    return f"https://huggingface.co/{repo_id}"


__all__ = ["CARD_NAME", "export_generator", "push", "run_rows"]
