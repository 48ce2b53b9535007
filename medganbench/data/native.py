"""Native-grid slices of a paired volume dataset's patients, for ``--eval-grid native``.

:func:`native_reader` returns the function a
:class:`~medganbench.data.serve.NativeSlicesDataset` calls at evaluation time: it reads one
patient's files again (one patient at a time, so no native volume is cached or held for the
whole split), converts them to the delivered units exactly as
:func:`~medganbench.data.patients.read_patients` does, and returns the asked slices of one
domain with their body mask, unpadded and unresized. The mask is the patient's mask file
(nonzero inside), or else, as when cutting, the union of the domains' body masks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from medganbench.core.dataset import DomainInfo
from medganbench.core.volumes import NativeSlices
from medganbench.data.intensity import body_mask, to_units
from medganbench.data.patients import CutSettings, Patient
from medganbench.data.problems import DataFileError
from medganbench.data.reader import read_volume
from medganbench.data.serve import NativeReader
from medganbench.errors import DataError


def native_reader(
    patients: Sequence[Patient], domains: Mapping[str, DomainInfo], settings: CutSettings
) -> NativeReader:
    """The reader of native slices for ``patients`` (``settings``: axis and percentile).

    Raises (when called):
        DataError: the patient is unknown or its files can no longer be read.
    """
    by_key = {p.key: p for p in patients}
    axis = settings.axis

    def read(patient: str, key: str, slices: Sequence[int]) -> NativeSlices:
        files = by_key.get(patient)
        if files is None:
            raise DataError(f"No patient {patient!r} to read on the native grid.")
        wanted = list(slices)
        try:
            planes = {}
            for k, source in files.images.items():
                volume = read_volume(source, rescale=domains[k].units == "HU")
                data = to_units(volume.data, domains[k], settings.percentile)
                planes[k] = np.moveaxis(data, axis, 0)[wanted]
            if files.mask is not None:
                mask_planes = np.moveaxis(read_volume(files.mask).data, axis, 0)[wanted] > 0
        except (DataFileError, IndexError) as exc:
            message = exc.message if isinstance(exc, DataFileError) else "fewer slices than before"
            raise DataError(
                f"{files.where}: cannot read it again on the native grid ({message})."
            ) from None
        stacks = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in planes.items()}
        if files.mask is not None:
            mask = torch.from_numpy(np.ascontiguousarray(mask_planes))
        else:
            mask = torch.zeros(stacks[key].shape, dtype=torch.bool)
            for k, stack in stacks.items():
                mask |= body_mask(stack[:, None], domains[k].window)[:, 0]
        return NativeSlices(target=stacks[key][None].float(), mask=mask[None])

    return read


__all__ = ["native_reader"]
