"""What keeps the model copies of a multi-device trial one model: the collectives of training.

Data parallelism here is torch's own ``torch.distributed`` collectives, applied to the
networks a model declares (:meth:`~medganbench.core.model.Model.trained_modules`), rather
than ``DistributedDataParallel`` wrappers. A GAN step runs each network several times and
calls ``backward`` several times (the discriminator on real and on generated images, the
generator through the discriminator), which DDP's one-forward-one-backward bookkeeping
refuses or needs per-model surgery for; averaging each gradient as it is accumulated works
for any sequence of passes and leaves the models' code unchanged. What DDP guarantees holds
here too: every process starts from process 0's weights (:meth:`Replicas.broadcast`), every
gradient is the average over the processes before any optimiser uses it
(:meth:`Replicas.average_gradients`), so the copies stay equal step after step; batch norm
is synchronised on GPUs (``SyncBatchNorm``, where the model declares it).

Averaging is linear, so a gradient accumulated over several ``backward`` calls is averaged
correctly when each accumulation is: ``avg(avg(g1) + g2) = avg(g1) + avg(g2)``. The cost is
one all-reduce per parameter tensor per ``backward`` (DDP buckets them); the networks here are
small enough that this is not what a step waits for on one machine (measured in
``benchmarks/README.md`` where a lent multi-GPU machine ran it).

Every collective that fails because another process went away raises
:class:`~medganbench.run.distributed.PeerLost`: one message, no traceback.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from medganbench.run.distributed import PeerLost, World

T = TypeVar("T")


class Replicas:
    """The collectives of one multi-device trial, from the point of view of one process.

    Args:
        world: this process's place in the trial.
        device: where this process computes (the collectives' tensors live there for NCCL).
    """

    def __init__(self, world: World, device: torch.device) -> None:
        self.world = world
        self.device = device
        self._hooks: list[Any] = []
        # Checkpoint states (every process's weights and optimiser state) travel between host
        # memories over gloo, not through GPU memory, where N copies could not fit beside the
        # model on process 0's GPU.
        self._host_group: Any = dist.new_group(backend="gloo") if device.type == "cuda" else None

    def _collective(self, what: str, call: Callable[[], T]) -> T:
        """Run one collective; a process that went away becomes :class:`PeerLost`."""
        try:
            return call()
        except (RuntimeError, dist.DistBackendError) as exc:
            raise PeerLost(
                f"Another process of this {self.world.size}-device run stopped, so process "
                f"{self.world.rank} stopped too (while it {what}: {str(exc).splitlines()[0]}).",
                hint="Checkpoints written so far are complete: continue the run with "
                "`medganbench run --resume runs/<run id>` on the same number of devices.",
            ) from None

    def broadcast(self, modules: Mapping[str, nn.Module]) -> None:
        """Give every process process 0's parameters and buffers (as DDP does at its start)."""
        for module in modules.values():
            for tensor in module.state_dict(keep_vars=True).values():
                if isinstance(tensor, torch.Tensor) and tensor.numel() > 0:
                    self._broadcast(tensor.data if isinstance(tensor, nn.Parameter) else tensor)

    def _broadcast(self, tensor: torch.Tensor) -> None:
        """Overwrite ``tensor`` with process 0's."""
        self._collective("received the weights", lambda: dist.broadcast(tensor, src=0))

    def average_gradients(self, modules: Mapping[str, nn.Module]) -> None:
        """From now on, average every trainable parameter's gradient over the processes each
        time a ``backward`` has accumulated into it (see the module's docstring)."""
        size = float(self.world.size)

        def averaged(param: torch.Tensor) -> None:
            grad = param.grad
            if grad is None:
                return
            self._collective("averaged gradients", lambda: dist.all_reduce(grad))
            grad.div_(size)

        seen: set[int] = set()
        for module in modules.values():
            for param in module.parameters():
                if id(param) in seen:
                    continue
                seen.add(id(param))
                # Every parameter, also one frozen now: GAN steps switch requires_grad of a
                # discriminator off and on (torch hooks only tensors that require it, hence
                # the switch around the registration).
                frozen = not param.requires_grad
                param.requires_grad_(True)
                self._hooks.append(param.register_post_accumulate_grad_hook(averaged))  # type: ignore[no-untyped-call]
                param.requires_grad_(not frozen)

    def stop_averaging(self) -> None:
        """Remove the gradient hooks (before evaluation, which runs on process 0 alone)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of ``values`` over the processes (e.g. step losses: the mean
        of the shares' mean losses is the global batch's mean loss)."""
        total = values.detach().to(self.device, torch.float64).clone()
        self._collective("shared the losses", lambda: dist.all_reduce(total))
        return (total / self.world.size).cpu()

    def largest(self, value: float) -> float:
        """The largest of every process's ``value`` (so all agree when a seconds budget ends)."""
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        self._collective(
            "compared training times",
            lambda: dist.all_reduce(tensor, op=dist.ReduceOp.MAX),
        )
        return float(tensor.item())

    def other_states(self, state: Mapping[str, Any]) -> tuple[dict[str, Any], ...] | None:
        """On process 0, the ``state`` of processes 1 … N-1, in rank order; ``None`` elsewhere
        (those processes only send theirs; process 0 keeps its own as it is).

        The states travel as ``torch.save`` bytes and are read back with the tensors-only
        loader (``weights_only``): nothing a process sends can run code in another.
        """
        buffer = io.BytesIO()
        if not self.world.main:
            torch.save(dict(state), buffer)
        data = bytearray(buffer.getvalue())
        payload = (
            torch.frombuffer(data, dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)
        )
        blobs = self._gather_bytes(payload)
        if blobs is None:
            return None
        return tuple(
            torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
            for blob in blobs[1:]
        )

    def _gather_bytes(self, payload: torch.Tensor) -> list[bytes] | None:
        """Byte strings of every process on process 0 (padded to one length on the wire),
        through host memory (the gloo group on GPUs)."""
        group = self._host_group
        size = torch.tensor([payload.numel()], dtype=torch.int64)
        sizes = [torch.zeros_like(size) for _ in range(self.world.size)]
        self._collective("sent its checkpoint", lambda: dist.all_gather(sizes, size, group=group))
        longest = int(max(int(s.item()) for s in sizes))
        padded = torch.zeros(longest, dtype=torch.uint8)
        padded[: payload.numel()] = payload
        received: Sequence[torch.Tensor] | None = (
            [torch.zeros_like(padded) for _ in range(self.world.size)] if self.world.main else None
        )
        self._collective(
            "sent its checkpoint",
            lambda: dist.gather(
                padded, list(received) if received is not None else None, dst=0, group=group
            ),
        )
        if received is None:
            return None
        return [
            bytes(tensor[: int(s.item())].numpy().tobytes())
            for tensor, s in zip(received, sizes, strict=True)
        ]


#: The batch-norm layers ``SyncBatchNorm`` replaces.
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def sync_batch_norm(modules: Mapping[str, nn.Module]) -> int:
    """Turn the batch-norm layers inside ``modules`` into ``SyncBatchNorm`` in place (their
    parameters and running statistics are the same tensors, so optimisers keep working);
    returns how many were turned. The modules themselves must not be batch-norm layers."""
    turned = 0
    for module in modules.values():
        for parent in module.modules():
            for name, child in list(parent.named_children()):
                if isinstance(child, BATCH_NORMS):
                    setattr(parent, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))  # type: ignore[no-untyped-call]
                    turned += 1
    return turned


def has_batch_norm(modules: Mapping[str, nn.Module]) -> bool:
    """Whether any of ``modules`` holds a batch-norm layer."""
    return any(isinstance(m, BATCH_NORMS) for module in modules.values() for m in module.modules())
