"""One trial on several devices: who this process is, and the process group it belongs to.

A run on N devices is N processes started by torchrun (``torchrun --nproc_per_node N -m
medganbench run ...``, or ``medganbench run --devices N``, which starts torchrun itself: see
:mod:`medganbench.run.launch`). torchrun tells each process its place in the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); :func:`launched_world` reads it, and
:func:`process_group` joins the processes through ``torch.distributed`` (NCCL between GPUs,
gloo between CPU processes). What the run loop does with the group (averaged gradients, one
writer, gathered checkpoints) is in :mod:`medganbench.run.replicas`.

Every process trains the same model on its share of each global batch; process 0, the *main*
one, is the only one that writes checkpoints, history, samples and leaderboard rows, and the
only one that evaluates.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from medganbench.errors import RunError, UsageError

#: How long a process waits at a collective for the others. Long, because process 0 validates
#: and evaluates alone while the others wait; a process that dies is noticed at once anyway (its
#: connections close).
COLLECTIVE_TIMEOUT = timedelta(hours=2)

#: Exit status of a process that stopped because another process of its trial stopped; the
#: launcher reports the process that stopped first instead (see :mod:`medganbench.run.launch`).
PEER_LOST_EXIT = 3


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one trial.

    Attributes:
        rank: 0 … ``size - 1``; process 0 is the main one (the only writer).
        size: the number of processes (devices) of the trial.
        local_rank: the process's index on its own machine (its GPU's index there).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this is process 0, which writes and evaluates."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether the trial spans more than one process."""
        return self.size > 1


#: The world of an ordinary run: one process on one device.
SINGLE = World()


class PeerLost(RunError):
    """Another process of the trial stopped (killed, or failed) while this one waited for it."""

    exit_code = PEER_LOST_EXIT


def launched_world(environ: Mapping[str, str] | None = None) -> World:
    """This process's world as torchrun describes it, or :data:`SINGLE` outside torchrun.

    Raises:
        UsageError: the torchrun variables are malformed.
    """
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return SINGLE
    try:
        world = World(
            rank=int(env.get("RANK", "0")),
            size=int(env["WORLD_SIZE"]),
            local_rank=int(env.get("LOCAL_RANK", "0")),
        )
    except ValueError:
        raise UsageError(
            "RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (torchrun sets them)."
        ) from None
    if not (world.size >= 1 and 0 <= world.rank < world.size and world.local_rank >= 0):
        raise UsageError(
            f"RANK={world.rank} and WORLD_SIZE={world.size} do not describe a process of a "
            "trial (0 <= RANK < WORLD_SIZE)."
        )
    return world


def check_world(devices: int, world: World) -> None:
    """Refuse a run that asks for another number of devices than the processes started.

    Raises:
        UsageError: ``devices`` differs from ``world.size``.
    """
    if devices != world.size:
        started = "one process" if world.size == 1 else f"{world.size} processes"
        raise UsageError(
            f"This run is on {devices} device(s), but {started} started it.",
            hint=(
                f"Start it with `medganbench run ... --devices {devices}` or `torchrun "
                f"--nproc_per_node {devices} -m medganbench run ...`; a run continues on the "
                "number of devices it started on."
            ),
        )


def rank_seed(seed: int, rank: int) -> int:
    """The seed of process ``rank``'s random streams: the run's own seed on process 0 (so its
    stream is the single-device run's), a seed derived from both elsewhere, so that no two
    processes draw the same noise for their shares of a batch."""
    if rank == 0:
        return seed
    digest = hashlib.sha256(f"medganbench rank seed {seed} {rank}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def rank_device(device: torch.device, world: World) -> torch.device:
    """The device of this process: its own GPU (``cuda:LOCAL_RANK``) on CUDA, else ``device``."""
    if device.type == "cuda" and world.distributed:
        return torch.device("cuda", world.local_rank)
    return device


def backend_for(device: torch.device) -> str:
    """NCCL between GPUs, gloo between CPU processes."""
    return "nccl" if device.type == "cuda" else "gloo"


@contextmanager
def process_group(world: World, device: torch.device) -> Iterator[None]:
    """Join the trial's processes for the duration of the block (nothing for one process).

    The group is left again at the end, also after an error; a group that someone else (a
    test, a host program) already opened is used and left open.

    Raises:
        RunError: the processes could not meet (torchrun's rendezvous variables are wrong).
    """
    if not world.distributed or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group(
            backend_for(device),
            rank=world.rank,
            world_size=world.size,
            timeout=COLLECTIVE_TIMEOUT,
            device_id=device if device.type == "cuda" else None,
        )
    except (RuntimeError, ValueError) as exc:
        raise RunError(
            f"Process {world.rank} of {world.size} could not join the others ({exc}).",
            hint="Start the processes with torchrun (or medganbench run --devices N).",
        ) from None
    try:
        yield
    finally:
        dist.destroy_process_group()
