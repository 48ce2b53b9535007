"""A paired volume dataset served as volumes (``dims=3``): crops to train on, whole volumes to
evaluate.

The toolkit cuts every patient's volume into slices of ``image_size`` × ``image_size`` in-plane
(:mod:`medganbench.data.slicing`) and caches them; a 3-D model trains on the same data stacked
back along the slice axis. :class:`VolumeSplit` does the stacking: each patient's slices, in
slice order, fill a (C, n, S, S) volume, n running from the patient's first to its last
delivered slice (a slice the toolkit skipped as empty is background: the window's low end, mask
false, label 0). The **training** split serves crops of ``S`` slices, ``S // 2`` apart (the last
one ending at the volume's end; a volume shorter than ``S`` is padded at its end with
background), so every slice is in at least one crop and the items are fixed, reproducible
S × S × S volumes a loader can shuffle. The **evaluation** splits serve each patient's whole
volume, which the runner translates window by window (:mod:`medganbench.run.windows`): every
score is of a whole-volume prediction, per patient, with the same per-patient scoring as 2-D
models' slices get.

Items say their patient under the shared volume key and, under the slice key, the index of
their first slice in the patient's numbering (:mod:`medganbench.run.volume_slices`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset as TorchDataset

from medganbench.core.dataset import Dataset, DatasetInfo, DomainKey, Sample
from medganbench.core.geometry import VolumeGeometry, window_starts
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY
from medganbench.data.serve import DomainSlices, SlicesDataset, SliceSplit
from medganbench.errors import UsageError

__all__ = ["VolumeSplit", "VolumesDataset", "slice_axis_orientation"]

#: The nominal anatomical letters of the (x, y, z) index axes of a volume as the readers give it
#: (NIfTI's order; scanners store near-axis-aligned volumes, so z is the axial axis).
INDEX_LETTERS = "RAS"


def slice_axis_orientation(axis: int) -> str:
    """The nominal orientation letters of volumes stacked across index axis ``axis``: the
    slice axis first, then the two in-plane axes in index order (``2`` → ``"SRA"``)."""
    rest = [INDEX_LETTERS[i] for i in range(3) if i != axis]
    return INDEX_LETTERS[axis] + "".join(rest)


@dataclass(frozen=True)
class _Stack:
    """One patient's volume in both domains, (C, n, S, S), and where its slices start."""

    volume: int
    first: int
    a: torch.Tensor
    b: torch.Tensor
    mask_a: torch.Tensor
    mask_b: torch.Tensor
    label_a: torch.Tensor | None
    label_b: torch.Tensor | None


def _stack(
    slices: DomainSlices, rows: torch.Tensor, first: int, length: int, fill: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The slices at ``rows`` placed at their slice positions in a volume of ``length``."""
    assert slices.slice is not None
    images, masks = slices.images[rows], slices.mask[rows]
    where = slices.slice[rows] - first
    channels, side = images.shape[1], images.shape[-1]
    volume = torch.full((channels, length, side, side), fill, dtype=images.dtype)
    mask = torch.zeros((1, length, side, side), dtype=torch.bool)
    volume[:, where] = images.transpose(0, 1)
    mask[:, where] = masks.transpose(0, 1)
    labels = None
    if slices.labels is not None:
        labels = torch.zeros((1, length, side, side), dtype=torch.int64)
        labels[:, where] = slices.labels[rows].long().transpose(0, 1)
    return volume, mask, labels


class VolumeSplit(TorchDataset[Sample]):
    """A paired split's slices as volumes: crops of ``depth`` slices, or whole volumes
    (``depth`` ``None``); see the module docstring."""

    def __init__(self, split: SliceSplit, depth: int | None, fill: tuple[float, float]) -> None:
        a, b = split.domains["a"], split.domains["b"]
        if not split.paired or a.volume is None or a.slice is None:
            raise UsageError("dims=3 needs a paired dataset whose slices come from volumes.")
        self._stacks: list[_Stack] = []
        for volume in torch.unique(a.volume).tolist():
            rows = (a.volume == volume).nonzero().flatten()
            first = int(a.slice[rows].min())
            length = int(a.slice[rows].max()) - first + 1
            va, ma, la = _stack(a, rows, first, length, fill[0])
            vb, mb, lb = _stack(b, rows, first, length, fill[1])
            self._stacks.append(_Stack(int(volume), first, va, vb, ma, mb, la, lb))
        self._items: list[tuple[int, int]] = []  # (stack, start)
        for i, stack in enumerate(self._stacks):
            starts = [0] if depth is None else window_starts(stack.a.shape[1], depth)
            self._items.extend((i, s) for s in starts)
        self._depth = depth
        self._fill = fill
        self._ids = a.ids

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(index)
        i, start = self._items[index]
        stack = self._stacks[i]
        length = stack.a.shape[1]
        depth = length if self._depth is None else self._depth
        take = min(depth, length - start)

        def cut(x: torch.Tensor, fill: float | bool | int) -> torch.Tensor:
            part = x[:, start : start + take]
            if take == depth:
                return part.clone()
            out = torch.full((x.shape[0], depth, *x.shape[2:]), fill, dtype=x.dtype)
            out[:, :take] = part
            return out

        item: Sample = {
            "a": cut(stack.a, self._fill[0]),
            "b": cut(stack.b, self._fill[1]),
            "mask_a": cut(stack.mask_a, False),
            "mask_b": cut(stack.mask_b, False),
            VOLUME_KEY: torch.tensor(stack.volume, dtype=torch.int64),
            SLICE_KEY: torch.tensor(stack.first + start, dtype=torch.int64),
        }
        if stack.label_a is not None and stack.label_b is not None:
            item["label_a"] = cut(stack.label_a, 0)
            item["label_b"] = cut(stack.label_b, 0)
        return item

    def volume_ids(self) -> list[str]:
        """The patients the items' volume indices refer to."""
        return list(self._ids)


class VolumesDataset(Dataset):
    """A paired :class:`~medganbench.data.serve.SlicesDataset` served as volumes: crops of
    ``image_size``³ to train on, whole volumes to evaluate (see the module docstring)."""

    def __init__(self, slices: SlicesDataset, axis: int) -> None:
        info = slices.info
        side = info.image_size
        geometry = VolumeGeometry(
            size=(side, side, side),
            spacing=None,  # each patient keeps its own slice spacing; in-plane as the 2-D slices
            orientation=slice_axis_orientation(axis),
            crop=f"{side}-slice crops of the stacked slices to train; whole volumes to evaluate",
            whole_volumes=True,
        )
        self.info = DatasetInfo(
            a=info.a,
            b=info.b,
            paired=info.paired,
            splits=info.splits,
            image_size=side,
            labels=info.labels,
            volume=geometry,
        )
        self.slices = slices
        fill = (info.a.window[0], info.b.window[0])
        self._splits = {
            name: VolumeSplit(slices.split(name), side if name == "train" else None, fill)
            for name in info.splits
        }

    def split(self, name: str) -> VolumeSplit:
        if name not in self._splits:
            raise UsageError(f"Unknown split {name!r}.", hint=f"Splits: {', '.join(self._splits)}")
        return self._splits[name]

    def fingerprint(self) -> str:
        return self.slices.fingerprint()

    def volume_ids(self, split: str, domain: DomainKey = "b") -> list[str]:
        """The patients of ``split``, in the order the items' volume indices refer to."""
        return self.split(split).volume_ids()
