"""Endless, seeded, resumable training batches.

A run's data order is part of what makes it reproducible, so a resumed run must see exactly the
batches the uninterrupted run would have seen after its checkpoint. :class:`ShuffledBatches`
wraps a plain shuffling :class:`~torch.utils.data.DataLoader` and remembers two things: the
state of the loader's generator when the current epoch began, and how many batches of that epoch
have been handed out. Restoring replays the epoch from that state and skips the batches already
used. Replaying the loader itself (rather than re-implementing its sampler) keeps the order
bit-identical to the loader's, whatever a future torch does inside it.

On several devices (:mod:`medganbench.run.distributed`) every process shuffles with the same
seed, so all draw the same sequence of global batches; each process loads only its own share
of each, the ``rank``-th slice of ``batch_size / size`` images (:class:`ShareOfBatches`). The
shares of one step are exactly the single-device run's batch, which is what lets N devices
repeat the single-device arithmetic. (torch's ``DistributedSampler`` deals each process a
different part of the epoch instead: the global batch of a step would be other images than a
single device's.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from medganbench.core.dataset import Sample
from medganbench.errors import DataError
from medganbench.run.distributed import SINGLE, World


class ShareOfBatches:
    """This process's share of every batch of ``batches``: the ``world.rank``-th of
    ``world.size`` equal slices (batch sizes are multiples of ``world.size``)."""

    def __init__(self, batches: Iterable[list[int]], world: World) -> None:
        self._batches = batches
        self._world = world

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches:
            share = len(batch) // self._world.size
            yield batch[self._world.rank * share : (self._world.rank + 1) * share]

    def __len__(self) -> int:
        return len(self._batches)  # type: ignore[arg-type]


class ShuffledBatches:
    """Endless shuffled batches of ``data``, in an order fixed by ``seed``.

    Epoch after epoch, the same loader reshuffles with its own generator, so the sequence of
    batches depends only on ``seed``, the data and ``batch_size``.

    Args:
        data: a map-style dataset (a split).
        batch_size: images per batch. The last, short batch of an epoch is dropped unless the
            split is smaller than one batch.
        seed: seeds the loader's generator.
        world: the trial's processes; on several, ``batch_size`` is the global batch and this
            process loads its share (see the module's docstring).

    Raises:
        DataError: ``data`` is empty, or on several devices smaller than one global batch.
    """

    def __init__(self, data: Any, batch_size: int, seed: int, world: World = SINGLE) -> None:
        if len(data) == 0:
            raise DataError("The train split is empty.")
        self._generator = torch.Generator().manual_seed(seed)
        drop_last = len(data) >= batch_size
        if not world.distributed:
            self._loader = DataLoader(
                data,
                batch_size=batch_size,
                shuffle=True,
                drop_last=drop_last,
                generator=self._generator,
            )
        else:
            if not drop_last:
                raise DataError(
                    f"The train split has {len(data)} images, fewer than one global batch of "
                    f"{batch_size}, so it cannot be shared by {world.size} devices."
                )
            # The very sampler DataLoader(shuffle=True) builds, so the order is the one above.
            whole = BatchSampler(
                RandomSampler(data, generator=self._generator), batch_size, drop_last=True
            )
            self._loader = DataLoader(
                data, batch_sampler=ShareOfBatches(whole, world), generator=self._generator
            )
        self._epoch_iter: Iterator[Sample] | None = None
        self._epoch_start: torch.Tensor | None = None
        self._position = 0

    def __iter__(self) -> ShuffledBatches:
        return self

    def __next__(self) -> Sample:
        while True:
            if self._epoch_iter is None:
                self._epoch_start = self._generator.get_state()
                self._epoch_iter = iter(self._loader)
                self._position = 0
            try:
                batch = next(self._epoch_iter)
            except StopIteration:
                self._epoch_iter = None
                continue
            self._position += 1
            return batch

    def state_dict(self) -> dict[str, Any]:
        """Where in the sequence we are: the epoch's starting generator state and position."""
        return {
            "epoch_start": None if self._epoch_iter is None else self._epoch_start,
            "position": self._position,
            "generator": self._generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict`: the next batch is the one that would have come.

        Replaying an epoch loads the skipped batches again; with the cached slices the datasets
        serve, that costs well under a millisecond per batch.
        """
        self._epoch_iter = None
        if state["epoch_start"] is None:
            self._generator.set_state(state["generator"])
            return
        self._generator.set_state(state["epoch_start"])
        self._epoch_start = state["epoch_start"]
        self._epoch_iter = iter(self._loader)
        for _ in range(int(state["position"])):
            next(self._epoch_iter)
        self._position = int(state["position"])


class TrainBatches:
    """Training batches of a dataset's train split, paired or with independent halves
    (``batch_size`` is the global batch; on several devices each process gets its share).

    With ``unpaired`` the A half and the B half come from two independent shuffles (seeds
    ``seed`` and ``seed + 1``), so an A image and the B image beside it are unrelated even on a
    paired dataset. Yields ``(sample, paired)``.
    """

    def __init__(
        self,
        train: Any,
        batch_size: int,
        seed: int,
        *,
        unpaired: bool,
        paired_data: bool,
        world: World = SINGLE,
    ) -> None:
        self._unpaired = unpaired
        self._paired_data = paired_data
        self._a = ShuffledBatches(train, batch_size, seed, world)
        self._b = ShuffledBatches(train, batch_size, seed + 1, world) if unpaired else None

    def __iter__(self) -> TrainBatches:
        return self

    def __next__(self) -> tuple[Sample, bool]:
        raw_a = next(self._a)
        if self._b is None:
            return raw_a, self._paired_data
        raw_b = next(self._b)
        return {
            "a": raw_a["a"],
            "mask_a": raw_a["mask_a"],
            "b": raw_b["b"],
            "mask_b": raw_b["mask_b"],
        }, False

    def state_dict(self) -> dict[str, Any]:
        """Both shuffles' positions (see :meth:`ShuffledBatches.state_dict`)."""
        return {"a": self._a.state_dict(), "b": None if self._b is None else self._b.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`.

        Raises:
            ValueError: the state is of a different pairing mode than this instance.
        """
        if (state["b"] is None) != (self._b is None):
            raise ValueError("checkpointed data order is of a different pairing mode")
        self._a.load_state_dict(state["a"])
        if self._b is not None:
            self._b.load_state_dict(state["b"])
