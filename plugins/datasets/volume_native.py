"""Native-grid slices of a volume dataset's patients, for ``--eval-grid native`` evaluation.

:func:`native_reader` returns the function a :class:`~medganbench_plugins.datasets.volume_pairs.
VolumeDataset` calls at evaluation time: it reads one patient's files again (one patient at a
time, so no native volume is ever cached or held for the whole split), converts them to the
delivered units exactly as :func:`~medganbench_plugins.datasets.volume_pairs.read_patients`
does, and returns the asked slices of one domain with their body mask, unpadded and unresized.
The mask is the patient's mask file (nonzero inside), or else, as when cutting, the union of
the domains' body masks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medganbench.core.dataset import DomainInfo
from medganbench.core.volumes import NativeSlices
from medganbench.errors import DataError
from medganbench_plugins.datasets.nifti_volumes import (
    VolumeError,
    fingerprint_extra,
    payload_problems,
)
from medganbench_plugins.datasets.slices import body_mask, cached, files_fingerprint
from medganbench_plugins.datasets.volume_pairs import (
    PatientFiles,
    VolumeDataset,
    build_volume_dataset,
    read_patients,
    read_volume,
    to_units,
)

__all__ = [
    "NativeReader",
    "load_paired_patients",
    "native_reader",
]

#: Patient key, domain key, slice indices → those slices on the native grid.
NativeReader = Callable[[str, str, Sequence[int]], NativeSlices]


def native_reader(
    patients: Sequence[PatientFiles],
    domains: Mapping[str, DomainInfo],
    args: Mapping[str, Any],
) -> NativeReader:
    """The reader of native slices for ``patients`` (``args``: ``slice_axis``, ``percentile``).

    Raises (when called):
        DataError: the patient is unknown or its files can no longer be read.
    """
    by_key = {p.key: p for p in patients}
    axis, percentile = int(args["slice_axis"]), float(args["percentile"])

    def read(patient: str, key: str, slices: Sequence[int]) -> NativeSlices:
        files = by_key.get(patient)
        if files is None:
            raise DataError(f"No patient {patient!r} to read on the native grid.")
        try:
            planes = {
                k: np.take(
                    to_units(read_volume(path, domains[k].modality).data, domains[k], percentile),
                    list(slices),
                    axis=axis,
                )
                for k, path in files.images.items()
            }
            if files.mask is not None:
                mask_planes = np.take(read_volume(files.mask).data, list(slices), axis=axis) > 0
        except (VolumeError, IndexError) as exc:
            message = exc.message if isinstance(exc, VolumeError) else "fewer slices than before"
            raise DataError(
                f"{files.where}: cannot read it again on the native grid ({message})."
            ) from None
        # np.take along ``axis`` keeps the slice axis there: move it first → (D, h, w).
        stacks = {k: torch.from_numpy(np.moveaxis(v, axis, 0).copy()) for k, v in planes.items()}
        if files.mask is not None:
            mask = torch.from_numpy(np.moveaxis(mask_planes, axis, 0).copy())
        else:
            mask = torch.zeros(stacks[key].shape, dtype=torch.bool)
            for k, stack in stacks.items():
                mask |= body_mask(stack[:, None], domains[k].window)[:, 0]
        return NativeSlices(target=stacks[key][None].float(), mask=mask[None])

    return read


def load_paired_patients(
    name: str,
    version: str,
    root: Path,
    patients: Sequence[PatientFiles],
    domains: Mapping[str, DomainInfo],
    resolved: Mapping[str, Any],
    ratios: tuple[float, float, float],
    image_size: int,
    cache_dir: Path,
) -> VolumeDataset:
    """A paired volume dataset from its patients' files: cut (or read from the slice cache,
    keyed by the files' content), split by patient, and with a native-grid reader (used when
    a run asks for ``--eval-grid native``; it reads nothing until then).

    Raises:
        DataError: a patient's files disagree (naming its folder), or no usable slice.
    """
    files = [f for p in patients for f in (*p.images.values(), p.mask) if f and f.exists()]
    fingerprint = files_fingerprint(
        files, root, fingerprint_extra(name, version, resolved, image_size)
    )
    payload = cached(
        cache_dir / "slices",
        {"dataset": name, "root": str(root.resolve()), "fingerprint": fingerprint},
        lambda: read_patients(patients, domains, resolved, image_size),
    )
    payload_problems(payload, name)
    return build_volume_dataset(
        payload,
        (domains["a"], domains["b"]),
        ratios,
        int(resolved["seed"]),
        image_size,
        fingerprint,
        native_reader(patients, domains, resolved),
    )
