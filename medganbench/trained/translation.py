"""``medganbench translate``: a trained translator applied to images and whole volumes.

Inputs, one file or a folder of them:

* ``.npy``/``.png`` images (C, S, S) at the model's image size, as ``medganbench datasets
  export`` writes them: NumPy values in the source domain's units, PNG grey levels as the
  source window. The output has the input's name and format, in the target domain's units.
* Volumes (NIfTI, MetaImage, NRRD, or a folder holding one DICOM series): read as a dataset
  reads its volumes (CT in HU; MR and other arbitrary-unit images normalised per volume to the
  percentile the dataset used, unless ``input_units="domain"`` says they already are), cut
  across the dataset's slice axis, each slice padded to a centred square with its own minimum
  and resized to the image size (:func:`~medganbench.data.slicing.square_stack`), translated,
  resized back (bilinear) and cropped to its native plane, and written as a volume with the
  input's geometry (:mod:`~medganbench.trained.volume_files`).

A folder is read entry by entry (sorted); hidden files and ``manifest.json`` are skipped, each
sub-folder is a DICOM series, and anything else is refused in one message before anything is
translated. Outputs go to ``out`` with ``manifest.json`` naming every input and output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medganbench import progress
from medganbench.core.dataset import DomainInfo
from medganbench.core.model import Task
from medganbench.data.intensity import to_units
from medganbench.data.problems import DataFileError
from medganbench.data.reader import read_volume
from medganbench.data.slicing import CHUNK, square_stack
from medganbench.data.volume import is_volume_file
from medganbench.errors import DataError, UsageError
from medganbench.fileio import write_json
from medganbench.run.generator_config import domain_json
from medganbench.run.outputs import ImageShape, read_image, write_images
from medganbench.run.volumes import to_native
from medganbench.trained.generator import Generator
from medganbench.trained.manifest import MANIFEST_NAME, manifest
from medganbench.trained.outputs import prepare_out
from medganbench.trained.volume_files import dicom_folder, output_name, write_like

#: ``input_units``: ``raw`` values as stored in the files (normalised as the dataset does),
#: or ``domain``: already in the source domain's delivered units.
INPUT_UNITS: tuple[str, ...] = ("raw", "domain")
_IMAGE_SUFFIXES = (".npy", ".png")


@dataclass(frozen=True)
class Translated:
    """One input and what was written for it."""

    source: Path
    output: Path
    kind: str  # "image" or "volume"
    slices: int


def translate_volume(
    generator: Generator, data: np.ndarray, direction: str | None = None, input_units: str = "raw"
) -> np.ndarray:
    """Translate one volume's voxels (x, y, z), as read, slice by slice; the result has the
    same shape, in the target domain's units.

    Raises:
        UsageError: a multi-channel source domain, or an unknown ``input_units``.
    """
    chosen = generator.check_direction(direction)
    source, _ = generator.domains(chosen)
    if source.channels != 1:
        raise UsageError(
            f"{generator.config.model}'s source domain has {source.channels} channels; volumes have one."
        )
    if input_units not in INPUT_UNITS:
        raise UsageError(f"--input-units {input_units!r} is not one of {', '.join(INPUT_UNITS)}.")
    values = to_units(data, source, generator.config.percentile) if input_units == "raw" else data
    axis = generator.config.slice_axis
    planes = np.ascontiguousarray(np.moveaxis(np.asarray(values, np.float32), axis, 0))
    n, h, w = planes.shape
    size = generator.config.image_size
    if generator.config.dataset_info.volume is not None:
        return np.moveaxis(_translate_whole(generator, planes, chosen), 0, axis)
    out = np.empty((n, h, w), dtype=np.float32)
    with progress.phase(f"translating {n} slices", total=n, unit="slices") as shown:
        for start in range(0, n, CHUNK):
            chunk = planes[start : start + CHUNK]
            translated = generator.translate(square_stack(chunk, size), chosen)
            # As --eval-grid native scores them: resized back to the square, padding cropped.
            out[start : start + len(chunk)] = to_native(translated.transpose(0, 1), (h, w))[
                0
            ].numpy()
            shown.advance(len(chunk))
    return np.moveaxis(out, 0, axis)


def _translate_whole(generator: Generator, planes: np.ndarray, direction: str) -> np.ndarray:
    """A 3-D model's translation of one volume's (n, h, w) planes: the planes prepared as its
    dataset prepared them, stacked, translated whole (window by window, as the run evaluated
    whole volumes), and each plane resized back to its native size."""
    n, h, w = planes.shape
    size = generator.config.image_size
    stacked = square_stack(planes, size).transpose(0, 1)[None]  # (1, C, n, S, S)
    with progress.phase(f"translating a volume of {n} slices", total=1, unit="volumes") as shown:
        translated = generator.translate(stacked, direction)[0]  # (C, n, S, S)
        shown.advance()
    return to_native(translated, (h, w))[0].numpy()


def translate_files(
    generator: Generator,
    source: Path,
    out: Path,
    direction: str | None = None,
    input_units: str = "raw",
) -> list[Translated]:
    """Translate the image or volume file ``source``, or every one in the folder ``source``,
    into ``out`` (see the module), and write ``out/manifest.json``.

    Raises:
        UsageError: a sampling model, a missing input, or files that are neither images nor
            volumes (all listed in one message).
        DataError: an input that cannot be read (its name and why).
        StorageError: ``out`` is unusable.
    """
    if generator.task is not Task.TRANSLATE:
        raise UsageError(
            f"{generator.config.model} samples unconditionally: it takes no inputs.",
            hint="Use medganbench generate RUN_DIR --n N --out DIR.",
        )
    chosen = generator.check_direction(direction)
    inputs = _inputs(source)
    if out.resolve() in {p.resolve() for p in inputs} or (
        source.is_dir() and out.resolve() == source.resolve()
    ):
        raise UsageError(f"--out {out} is the input; choose another folder.")
    prepare_out(out)
    done = []
    src_domain, tgt_domain = generator.domains(chosen)
    volumes_only = generator.config.dataset_info.volume is not None
    images = [p for p in inputs if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file()]
    if volumes_only and images:
        raise UsageError(
            f"{generator.config.model} translates volumes; {images[0].name} is a 2-D image.",
            hint="Give it volumes: NIfTI, MetaImage, NRRD or a DICOM series folder.",
        )
    for path in inputs:
        if path.suffix.lower() in _IMAGE_SUFFIXES and path.is_file():
            done.append(_translate_image(generator, path, out, chosen, src_domain, tgt_domain))
        else:
            try:
                volume = read_volume(path, rescale=src_domain.units == "HU")
            except DataFileError as exc:
                raise DataError(f"{path}: {exc.message}.") from None
            result = translate_volume(generator, volume.data, chosen, input_units)
            target = out / output_name(path)
            write_like(path, result, target)
            done.append(
                Translated(path, target, "volume", int(volume.shape[generator.config.slice_axis]))
            )
    write_json(
        out / MANIFEST_NAME,
        manifest(
            generator,
            "translate",
            direction=chosen,
            input_units=input_units,
            slice_axis=generator.config.slice_axis,
            percentile=generator.config.percentile,
            source_domain=domain_json(src_domain),
            target_domain=domain_json(tgt_domain),
            files=[
                {
                    "input": t.source.name,
                    "output": t.output.name,
                    "kind": t.kind,
                    "slices": t.slices,
                }
                for t in done
            ],
        ),
    )
    return done


def _translate_image(
    generator: Generator,
    path: Path,
    out: Path,
    direction: str,
    source: DomainInfo,
    target: DomainInfo,
) -> Translated:
    size = generator.config.image_size
    image = read_image(path, ImageShape(source.channels, size, source.window))
    result = generator.translate(image[None], direction)[0]
    fmt = path.suffix.lower()[1:]
    write_images(out, [(path.stem, result)], fmt, ImageShape(target.channels, size, target.window))
    return Translated(path, out / f"{path.stem}.{fmt}", "image", 1)


def _inputs(source: Path) -> list[Path]:
    """The inputs ``source`` names, checked (see the module)."""
    if not source.exists():
        raise UsageError(f"--input {source} does not exist.")
    if source.is_file():
        if source.suffix.lower() in _IMAGE_SUFFIXES or is_volume_file(source):
            return [source]
        raise UsageError(
            f"--input {source} is neither an image (.npy, .png) nor a volume "
            "(.nii, .nii.gz, .mha, .mhd, .nrrd, .nhdr)."
        )
    entries = sorted(
        p for p in source.iterdir() if not p.name.startswith(".") and p.name != MANIFEST_NAME
    )
    usable = [
        p for p in entries
        if (p.is_file() and not p.is_symlink() and (p.suffix.lower() in _IMAGE_SUFFIXES or is_volume_file(p)))
        or (p.is_dir() and not p.is_symlink() and dicom_folder(p))
    ]  # fmt: skip
    if not usable and dicom_folder(source):
        return [source]  # the folder is one DICOM series
    refused = [p.name for p in entries if p not in usable]
    if refused or not usable:
        raise UsageError(
            f"--input {source} holds "
            + (
                f"{len(refused)} entries that are neither images nor volumes: {', '.join(refused[:10])}"
                if refused
                else "no image or volume"
            ),
            hint="Give a folder of .npy/.png images, volume files and DICOM series folders, or one file.",
        )
    return usable


__all__ = ["INPUT_UNITS", "Translated", "translate_files", "translate_volume"]
