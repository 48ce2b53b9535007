"""The three files of a reader study, one definition each: what the reader's page loads, what the
organiser keeps, and what a reader sends back.

A study folder ``DIR`` (``medganbench study create --out DIR``) holds:

- ``DIR/reader/``: what readers get, self-contained: ``index.html``, ``study.json``
  (:class:`StudyManifest`: the trials in their shown order, each an opaque id and an image
  path, nothing else) and ``images/<id>.png``. Nothing in it says which image is real.
- ``DIR/key.json``: the organiser's answer key (:class:`StudyKey`): per trial its truth and
  source, the runs, the seed, and the SHA-256 of ``reader/study.json``'s canonical JSON
  (:func:`manifest_sha256`).
- A reader's answers file (:class:`ReaderAnswers`), downloaded from the page: the reader's name,
  one answer per trial (real or synthetic, a confidence 1 … ``confidence_levels``, an optional
  quality 1 … ``quality_levels``), signed with the manifest's SHA-256 so answers are never
  scored against another study.

Every reader of these files treats them as hostile (they come back from other machines): JSON
only, every field's type and range checked, ids matched against the key, one message naming
the file and the field (:class:`~medganbench.errors.DataError`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medganbench.core.params import canonical_json
from medganbench.errors import DataError

FORMAT = 1
#: The reader's page's folder inside a study folder, and the key's file name.
READER_DIR = "reader"
KEY_NAME = "key.json"
MANIFEST_NAME = "study.json"
IMAGES_DIR = "images"
#: What a trial's truth may be, and what a reader may answer.
REAL, SYNTHETIC = "real", "synthetic"
ANSWERS: tuple[str, ...] = (REAL, SYNTHETIC)
#: Trial ids: opaque lowercase hex (no order, no source in them).
TRIAL_ID = re.compile(r"[0-9a-f]{16}")
#: The largest answers file read (a study of 10,000 trials is about 1 MB).
MAX_ANSWERS_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class StudyManifest:
    """``reader/study.json``: what the page shows, in order. No truth, no source.

    Attributes:
        title: shown on the page.
        trials: trial ids in the order the page shows them (randomised by the study's seed).
        confidence_levels: the confidence scale's points (1 = guessing … n = certain).
        quality_levels: the optional quality score's points (0: not asked).
    """

    title: str
    trials: tuple[str, ...]
    confidence_levels: int = 5
    quality_levels: int = 0

    def image(self, trial: str) -> str:
        """The trial's image, relative to ``reader/``."""
        return f"{IMAGES_DIR}/{trial}.png"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "title": self.title,
            "confidence_levels": self.confidence_levels,
            "quality_levels": self.quality_levels,
            "trials": [{"id": t, "image": self.image(t)} for t in self.trials],
        }


def manifest_sha256(manifest: StudyManifest) -> str:
    """The study's signature: SHA-256 of the manifest's canonical JSON (sorted keys, compact)."""
    return hashlib.sha256(canonical_json(manifest.to_json()).encode()).hexdigest()


@dataclass(frozen=True)
class TrialKey:
    """One trial's truth.

    Attributes:
        truth: ``"real"`` or ``"synthetic"``.
        block: the run id whose block the trial belongs to: for a synthetic trial the run that
            made the image; a real trial is assigned to one run's block, so every run's block
            is balanced (as many real as synthetic trials) and scored on its own.
        item: the index of the evaluation split's item the image shows (real: its target;
            synthetic: the translation of its source, or the index of the sample).
    """

    truth: str
    block: str
    item: int


@dataclass(frozen=True)
class StudyKey:
    """``key.json``: the organiser's answer key.

    Attributes:
        study_sha256: :func:`manifest_sha256` of the study's manifest.
        seed: the seed that chose and ordered the trials.
        runs: per run id, the leaderboard identity of the run the images come from (model,
            model_version, model_args, dataset, dataset_fingerprint, direction, image_size,
            seed, ...: the run's leaderboard row without its metric columns).
        trials: per trial id, its :class:`TrialKey`.
        split: the evaluation split the images come from.
        window: the display window ``(low, high)`` the images were mapped through.
    """

    study_sha256: str
    seed: int
    runs: Mapping[str, Mapping[str, Any]]
    trials: Mapping[str, TrialKey]
    split: str
    window: tuple[float, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "study_sha256": self.study_sha256,
            "seed": self.seed,
            "split": self.split,
            "window": list(self.window),
            "runs": {k: dict(v) for k, v in self.runs.items()},
            "trials": {
                k: {"truth": v.truth, "block": v.block, "item": v.item}
                for k, v in self.trials.items()
            },
        }


@dataclass(frozen=True)
class Answer:
    """A reader's answer to one trial."""

    trial: str
    answer: str
    confidence: int
    quality: int | None = None
    milliseconds: int | None = None


@dataclass(frozen=True)
class ReaderAnswers:
    """One reader's answers file.

    Attributes:
        study_sha256: the signature of the study the reader answered.
        reader: the name or code the reader gave.
        answers: one per trial, in the order answered.
    """

    study_sha256: str
    reader: str
    answers: tuple[Answer, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "study_sha256": self.study_sha256,
            "reader": self.reader,
            "answers": [
                {
                    "trial": a.trial,
                    "answer": a.answer,
                    "confidence": a.confidence,
                    "quality": a.quality,
                    "ms": a.milliseconds,
                }
                for a in self.answers
            ],
        }


# ------------------------------------------------------------------------------------ reading


def _load(path: Path, what: str, limit: int = MAX_ANSWERS_BYTES) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > limit:
            raise DataError(f"{path} is {size} bytes, too large for a {what} (at most {limit}).")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"Cannot read the {what} {path}: {exc.strerror or exc}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not a {what}: not JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} is not a {what}: not a JSON object.")
    if data.get("format") != FORMAT:
        raise DataError(
            f"{path} is not a {what} of format {FORMAT} (format {data.get('format')!r})."
        )
    return data


def _field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(name)
    # bool is an int in Python; no field here is a bool.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(f"{where}: field {name!r} is missing or not of the right type.")
    return value


def _level(value: Any, levels: int, name: str, where: str, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= levels:
        raise DataError(f"{where}: {name} {value!r} is not an integer from 1 to {levels}.")
    return value


def read_manifest(path: Path) -> StudyManifest:
    """``reader/study.json``, checked.

    Raises:
        DataError: not a manifest, or a trial id that is not opaque hex, or a repeated one.
    """
    data = _load(path, "study manifest")
    where = str(path)
    entries = _field(data, "trials", list, where)
    trials = []
    for entry in entries:
        trial = _field(entry if isinstance(entry, dict) else {}, "id", str, where)
        if not TRIAL_ID.fullmatch(trial):
            raise DataError(f"{where}: trial id {trial!r} is not 16 lowercase hex digits.")
        trials.append(trial)
    if len(set(trials)) != len(trials):
        raise DataError(f"{where}: a trial id is repeated.")
    manifest = StudyManifest(
        _field(data, "title", str, where),
        tuple(trials),
        _field(data, "confidence_levels", int, where),
        _field(data, "quality_levels", int, where),
    )
    if manifest.confidence_levels < 2 or manifest.quality_levels < 0:
        raise DataError(f"{where}: confidence_levels must be 2 or more, quality_levels 0 or more.")
    return manifest


def read_key(path: Path) -> StudyKey:
    """``key.json``, checked.

    Raises:
        DataError: not a key, or a trial whose truth or block is not one the key declares.
    """
    data = _load(path, "study key", limit=256 * 1024 * 1024)
    where = str(path)
    runs = _field(data, "runs", dict, where)
    trials: dict[str, TrialKey] = {}
    for trial, entry in _field(data, "trials", dict, where).items():
        if not TRIAL_ID.fullmatch(trial) or not isinstance(entry, dict):
            raise DataError(f"{where}: trial {trial!r} is not a trial of a study.")
        truth = _field(entry, "truth", str, where)
        block = _field(entry, "block", str, where)
        if truth not in ANSWERS or block not in runs:
            raise DataError(f"{where}: trial {trial}: truth {truth!r} or block {block!r} unknown.")
        trials[trial] = TrialKey(truth, block, _field(entry, "item", int, where))
    window = _field(data, "window", list, where)
    if len(window) != 2 or not all(isinstance(v, int | float) for v in window):
        raise DataError(f"{where}: window must be two numbers.")
    return StudyKey(
        _field(data, "study_sha256", str, where),
        _field(data, "seed", int, where),
        {str(k): dict(v) for k, v in runs.items() if isinstance(v, dict)},
        trials,
        _field(data, "split", str, where),
        (float(window[0]), float(window[1])),
    )


def read_answers(path: Path, manifest: StudyManifest, study_sha256: str) -> ReaderAnswers:
    """A reader's answers file, checked against the study it claims to answer.

    Raises:
        DataError: not an answers file; signed for another study (names both signatures and
            says to check which study the reader was given); an answer to a trial the study
            does not have, a repeated or missing trial, an answer or level out of range.
    """
    data = _load(path, "reader's answers file")
    where = str(path)
    signature = _field(data, "study_sha256", str, where)
    if signature != study_sha256:
        raise DataError(
            f"{where} answers study {signature[:12]}…, not this study ({study_sha256[:12]}…): "
            "score it with the study folder the reader was given."
        )
    reader = _field(data, "reader", str, where).strip()
    if not reader or len(reader) > 200:
        raise DataError(f"{where}: the reader's name is empty or longer than 200 characters.")
    known = set(manifest.trials)
    answers: list[Answer] = []
    seen: set[str] = set()
    for raw in _field(data, "answers", list, where):
        entry = raw if isinstance(raw, dict) else {}
        trial = _field(entry, "trial", str, where)
        if trial not in known:
            raise DataError(f"{where}: answer to trial {trial!r}, which this study does not have.")
        if trial in seen:
            raise DataError(f"{where}: trial {trial} is answered twice.")
        seen.add(trial)
        answer = _field(entry, "answer", str, where)
        if answer not in ANSWERS:
            raise DataError(f"{where}: trial {trial}: answer {answer!r} is not real or synthetic.")
        confidence = _level(
            entry.get("confidence"), manifest.confidence_levels, "confidence", where
        )
        quality = _level(
            entry.get("quality"),
            max(manifest.quality_levels, 1),
            "quality",
            where,
            optional=True,
        )
        if quality is not None and manifest.quality_levels == 0:
            raise DataError(f"{where}: trial {trial} has a quality score; this study asks none.")
        ms = entry.get("ms")
        if ms is not None and (not isinstance(ms, int) or isinstance(ms, bool) or ms < 0):
            raise DataError(f"{where}: trial {trial}: ms {ms!r} is not a non-negative integer.")
        answers.append(Answer(trial, answer, int(confidence or 0), quality, ms))
    if missing := known - seen:
        raise DataError(
            f"{where}: {len(missing)} of {len(known)} trials are not answered; a study is "
            "scored on complete answers only."
        )
    return ReaderAnswers(signature, reader, tuple(answers))
