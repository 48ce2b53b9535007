"""``medganbench study create``: a blinded reader study built from recorded runs.

:func:`create_study` reads each run's generator (``generator.json`` + ``generator.safetensors``)
and rebuilds the run's evaluation split exactly as the run built it (the dataset's arguments
and image size from ``generator.json``, its fingerprint checked against the run's). Each run
gets a *block* of ``n`` trials, half synthetic, half real:

- synthetic: the run's outputs for ``n/2`` evaluation items drawn by the study's RNG (a
  translator translates the item's source image; a sampler draws ``n/2`` samples from a
  generator seeded by the same RNG, and ``item`` is then the sample's index);
- real: the target-domain images of ``n/2`` *other* items drawn by the same RNG, so a block
  never shows the real and the synthetic image of the same item. Blocks draw independently:
  one real image may appear in two runs' blocks.

Every trial gets a random 16-hex id from the same RNG (never derived from its source), all
blocks are shuffled together, and every image is written by one encoder
(:func:`encode_png`): the target domain's window mapped onto 8-bit grey, no metadata. The
runs are taken in run-id order, so the study does not depend on the order they were named in;
the same runs, ``n`` and seed give the same files byte for byte (on the same device).

What it writes (:mod:`medganbench.study.formats`): ``out/reader/`` (``index.html``,
``study.json``, ``images/<id>.png``, in the order shown) for the readers, and ``out/key.json``
(the answer key, outside ``reader/``) for the organiser. Each run's identity in the key is its
``spec.json`` (the fields its run id hashes: model, versions, arguments, dataset, image size,
budget, seed, eval split, ...) plus, from ``generator.json``, ``dataset_fingerprint``,
``direction``, ``task``, ``protocol`` and ``selected_step``; a folder without ``spec.json``
(an export) gives ``generator.json``'s fields and evaluation split ``test``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from medganbench.core.dataset import DomainInfo
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.core.model import Task
from medganbench.core.params import canonical_json
from medganbench.errors import DataError, UsageError
from medganbench.fileio import write_bytes, write_json
from medganbench.run.export import resolve_dataset
from medganbench.run.generator_config import GeneratorConfig
from medganbench.run.generator_files import (
    GENERATOR_CONFIG,
    GENERATOR_WEIGHTS,
    read_config,
    read_generator,
)
from medganbench.run.options import RunOptions
from medganbench.run.prepare import build_dataset
from medganbench.run.resume import SPEC_NAME
from medganbench.study.formats import (
    KEY_NAME,
    MANIFEST_NAME,
    READER_DIR,
    REAL,
    SYNTHETIC,
    StudyKey,
    StudyManifest,
    TrialKey,
    manifest_sha256,
)
from medganbench.study.page import render_page
from medganbench.trained.generator import Generator, build_generator

#: The scales every study asks (confidence always; quality only with ``quality=True``).
CONFIDENCE_LEVELS = 5
QUALITY_LEVELS = 5
DEFAULT_TITLE = "Reader study"
#: The ``generator.json`` fields a run's identity in the key takes beside ``spec.json``'s.
GENERATOR_FIELDS = ("dataset_fingerprint", "task", "protocol", "selected_step")
#: Without ``spec.json``, these ``generator.json`` fields stand for it.
IDENTITY_FIELDS = (
    "model", "model_version", "model_args", "dataset", "dataset_version", "dataset_args",
    "image_size", "seed", "precision",
)  # fmt: skip
#: What runs in one study must share, as (what the message calls it, how to read it).
_ALIKE = (
    ("dataset", lambda r: r.config.dataset),
    ("dataset version", lambda r: r.config.dataset_version),
    ("dataset arguments", lambda r: canonical_json(r.config.dataset_args)),
    ("dataset fingerprint", lambda r: r.config.dataset_fingerprint),
    ("image size", lambda r: r.config.image_size),
    ("target domain", lambda r: r.direction[-1]),
    ("evaluation split", lambda r: r.split),
)


@dataclass(frozen=True)
class StudyRun:
    """One run a study draws from, read and checked (its networks not yet built).

    Attributes:
        folder: the run folder.
        config: its ``generator.json``.
        direction: the run's primary direction (``a2b``: the target domain is ``b``).
        split: its evaluation split.
        identity: what the key records for it (see the module).
    """

    folder: Path
    config: GeneratorConfig
    direction: str
    split: str
    identity: Mapping[str, Any]

    @property
    def run_id(self) -> str:
        return self.config.run_id


def create_study(
    run_dirs: Sequence[Path],
    n: int,
    out: Path,
    *,
    seed: int = 0,
    quality: bool = False,
    title: str | None = None,
    device: str | torch.device | None = "cpu",
    data_dir: Path | None = None,
    registries: Registries | None = None,
) -> StudyKey:
    """Build a blinded real-vs-synthetic study of ``run_dirs`` in ``out`` (see the module).

    Args:
        run_dirs: run folders (``runs/<run id>``) of 2-D runs on the same dataset, dataset
            arguments, image size, target domain and evaluation split.
        n: trials per run, even: ``n/2`` synthetic and ``n/2`` real.
        out: the study folder; it must not exist or be empty.
        seed: chooses the items, the samples' noise, the trial ids and the order.
        quality: also ask a quality score 1 … 5 per image.
        title: shown on the page (default "Reader study"); it must not name the models.
        device: where the generators run.
        data_dir: where the dataset's files are, for datasets of files (as ``--data-dir``).
        registries: the installed plugins (default: built afresh, as the command line does).

    Returns:
        The key written to ``out/key.json``.

    Raises:
        UsageError: an odd or non-positive ``n``, a bad seed, a non-empty ``out``, a folder
            without a generator, a run named twice, runs that differ in what must be shared,
            a 3-D run, a target domain that is not one grey channel.
        DataError: the split rebuilt here is not the run's data, or has too few items.
        GeneratorFileError: damaged generator files, or a model not installed here.
    """
    if n < 2 or n % 2:
        raise UsageError(
            f"--n {n}: each run's block needs an even number of trials, half real and half "
            "synthetic (for example 40)."
        )
    if not 0 <= seed < 2**63:
        raise UsageError(f"--seed {seed} must be from 0 to 2^63 - 1.")
    if not run_dirs:
        raise UsageError("Name at least one run folder to build a study from.")
    _check_out(out)
    regs = registries if registries is not None else build_registries(make_plugin_manager())
    runs = sorted((read_run(Path(d)) for d in run_dirs), key=lambda r: r.run_id)
    _check_alike(runs)
    data = _evaluation_split(runs[0], regs, data_dir)
    first = runs[0]
    target: DomainInfo = first.config.dataset_info.domain(first.direction[-1])  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    trials: list[tuple[TrialKey, torch.Tensor]] = []
    for run in runs:
        generator = build_generator(read_generator(run.folder), regs, device, str(run.folder))
        trials += _block(run, generator, data, n // 2, rng)
    ids = _trial_ids(len(trials), rng)
    order = [int(i) for i in rng.permutation(len(trials))]
    manifest = StudyManifest(
        title=title or DEFAULT_TITLE,
        trials=tuple(ids[i] for i in order),
        confidence_levels=CONFIDENCE_LEVELS,
        quality_levels=QUALITY_LEVELS if quality else 0,
    )
    sha = manifest_sha256(manifest)
    key = StudyKey(
        study_sha256=sha,
        seed=seed,
        runs={run.run_id: dict(run.identity) for run in runs},
        trials={ids[i]: trials[i][0] for i in order},
        split=first.split,
        window=(float(target.window[0]), float(target.window[1])),
    )
    reader = out / READER_DIR
    # In the order shown, so not even the files' times follow the blocks.
    for i in order:
        write_bytes(reader / manifest.image(ids[i]), encode_png(trials[i][1], target.window))
    write_json(reader / MANIFEST_NAME, manifest.to_json())
    write_bytes(reader / "index.html", render_page(manifest, sha).encode())
    write_json(out / KEY_NAME, key.to_json())
    return key


def read_run(folder: Path) -> StudyRun:
    """A run folder's generator config and identity, checked for a study (the weights are not
    read here).

    Raises:
        UsageError: not a folder, no generator in it, a 3-D run, or a target domain that is not
            one grey channel.
        DataError: ``spec.json`` is unreadable or names another run than ``generator.json``.
        GeneratorFileError: a damaged ``generator.json``.
    """
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a run folder.")
    if not (folder / GENERATOR_CONFIG).is_file():
        raise UsageError(
            f"{folder} holds no generator ({GENERATOR_CONFIG} and {GENERATOR_WEIGHTS}): a study "
            "shows a run's own outputs, so it needs a recorded run's folder.",
            hint="Runs recorded by medganbench run leave their generator beside result.json.",
        )
    # The config only: the weights are read (and their hash checked) when the run's images
    # are made, one run at a time.
    config = read_config(folder)
    direction = config.directions[0]
    if config.dataset_info.volume is not None:
        raise UsageError(
            f"{folder} is a 3-D run ({config.model} on {config.dataset}): reader studies show "
            "2-D images only for now."
        )
    target = config.dataset_info.domain(direction[-1])  # type: ignore[arg-type]
    if target.channels != 1:
        raise UsageError(
            f"{folder}: its target domain {target.name!r} has {target.channels} channels; "
            "reader studies show one-channel grey images only."
        )
    spec = _read_spec(folder)
    if spec is not None and spec.get("run_id") != config.run_id:
        raise DataError(
            f"{folder}: {SPEC_NAME} is of run {spec.get('run_id')!r}, {GENERATOR_CONFIG} of run "
            f"{config.run_id!r}; the folder mixes two runs."
        )
    whole = config.to_json()
    identity = (
        {k: v for k, v in spec.items() if k != "run_id"}
        if spec is not None
        else {k: whole[k] for k in IDENTITY_FIELDS}
    )
    identity.update({k: whole[k] for k in GENERATOR_FIELDS}, direction=direction)
    split = str(identity.setdefault("eval_split", "test"))
    return StudyRun(folder, config, direction, split, identity)


def encode_png(image: torch.Tensor, window: tuple[float, float]) -> bytes:
    """One (1, H, W) image in domain units as an 8-bit grey PNG: ``window`` low → 0, high →
    255, clipped, rounded; no text, time or other chunk beyond the image itself. Real and
    synthetic images both go through here."""
    low, high = window
    values = image.detach().cpu().double().numpy()[0]
    grey = np.rint(np.clip((values - low) / (high - low), 0.0, 1.0) * 255.0).astype(np.uint8)
    sink = io.BytesIO()
    Image.fromarray(grey).save(sink, format="PNG")
    return sink.getvalue()


def _check_out(out: Path) -> None:
    if out.is_symlink() or out.is_file():
        raise UsageError(f"--out {out} is a file or a link; name a new folder for the study.")
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(
            f"--out {out} already holds files; a study goes into a new or empty folder "
            "(its key must match its images)."
        )


def _read_spec(folder: Path) -> dict[str, Any] | None:
    path = folder / SPEC_NAME
    if not path.is_file():
        return None
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} cannot be read as a run's spec ({exc}).") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("eval_split", "test"), str):
        raise DataError(f"{path} is not a run's spec (not an object with a text eval_split).")
    return spec


def _check_alike(runs: Sequence[StudyRun]) -> None:
    """Refuse a run named twice, and runs that differ in what a study must hold equal."""
    ids = [run.run_id for run in runs]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise UsageError(f"Run {', '.join(twice)} is named twice; name each run once.")
    first = runs[0]
    for run in runs[1:]:
        for what, read in _ALIKE:
            if read(run) != read(first):
                raise UsageError(
                    f"Runs {first.run_id} and {run.run_id} differ in {what} ({read(first)} vs "
                    f"{read(run)}): a study compares runs on the same dataset, arguments, image "
                    "size, target domain and evaluation split."
                )


def _evaluation_split(
    run: StudyRun, registries: Registries, data_dir: Path | None
) -> torch.utils.data.Dataset[Any]:
    """The run's evaluation split, rebuilt as the run built it.

    Raises:
        DataError: the data here have another fingerprint than the run's, or no such split.
    """
    config = run.config
    resolved = resolve_dataset(registries, config.dataset, config.dataset_args, config.image_size)
    built = build_dataset(resolved, registries, RunOptions(data_dir=data_dir, progress=False))
    found = built.fingerprint()
    if found != config.dataset_fingerprint:
        raise DataError(
            f"The {config.dataset} data built here (fingerprint {found}) are not the data run "
            f"{run.run_id} was evaluated on ({config.dataset_fingerprint}).",
            hint="Point --data-dir at the files the run used.",
        )
    if run.split not in built.info.splits:
        raise DataError(f"Dataset {config.dataset!r} has no {run.split!r} split here.")
    return built.split(run.split)


def _block(
    run: StudyRun,
    generator: Generator,
    data: torch.utils.data.Dataset[Any],
    half: int,
    rng: np.random.Generator,
) -> list[tuple[TrialKey, torch.Tensor]]:
    """One run's ``half`` synthetic and ``half`` real trials (see the module).

    Raises:
        DataError: the split has too few items for disjoint real and synthetic ones.
    """
    source_key, target_key = run.direction[0], run.direction[-1]
    size = len(data)  # type: ignore[arg-type]
    sampler = generator.task is Task.SAMPLE
    needed = half if sampler else 2 * half
    if size < needed:
        raise DataError(
            f"The {run.split!r} split has {size} items; a block of {2 * half} trials needs "
            f"{needed} ({'real images' if sampler else 'distinct items for its real and synthetic images'}).",
            hint=f"Use --n {2 * (size if sampler else size // 2)} or less.",
        )
    items = [int(i) for i in rng.permutation(size)]
    if sampler:
        made = generator.sample(half, int(rng.integers(0, 2**63)))
        synthetic = [(TrialKey(SYNTHETIC, run.run_id, k), made[k]) for k in range(half)]
        reals = items[:half]
    else:
        chosen = items[:half]
        sources = torch.stack([data[i][source_key] for i in chosen])
        made = generator.translate(sources, run.direction)
        synthetic = [(TrialKey(SYNTHETIC, run.run_id, i), made[k]) for k, i in enumerate(chosen)]
        reals = items[half : 2 * half]
    real = [(TrialKey(REAL, run.run_id, i), data[i][target_key]) for i in reals]
    return synthetic + real


def _trial_ids(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct random 16-hex ids."""
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < count:
        trial = rng.bytes(8).hex()
        if trial not in seen:
            seen.add(trial)
            ids.append(trial)
    return ids


__all__ = [
    "CONFIDENCE_LEVELS",
    "QUALITY_LEVELS",
    "StudyRun",
    "create_study",
    "encode_png",
    "read_run",
]
