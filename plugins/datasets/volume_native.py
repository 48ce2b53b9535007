"""Native-grid slices of a volume dataset's patients, for ``eval_grid=native`` evaluation.

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
from typing import Any

import numpy as np
import torch

from medganbench.core.dataset import DomainInfo
from medganbench.core.params import Param
from medganbench.core.volumes import NativeSlices
from medganbench.errors import DataError
from medganbench_plugins.datasets.nifti_volumes import VolumeError
from medganbench_plugins.datasets.slices import body_mask
from medganbench_plugins.datasets.volume_pairs import PatientFiles, read_volume, to_units

__all__ = ["EVAL_GRIDS", "NativeReader", "eval_grid_param", "native_reader"]

#: The values of the ``eval_grid`` dataset argument.
EVAL_GRIDS = ("image-size", "native")
#: Patient key, domain key, slice indices → those slices on the native grid.
NativeReader = Callable[[str, str, Sequence[int]], NativeSlices]


def eval_grid_param() -> Param:
    """The ``eval_grid`` dataset argument."""
    return Param(
        "eval_grid",
        EVAL_GRIDS[0],
        "per-patient volume rows on the --image-size grid only, or also on the native grid "
        "(translated slices resized back to the native in-plane size; what SynthRAD "
        "comparisons need)",
        choices=EVAL_GRIDS,
    )


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
