"""The model contract.

A model plugin's factory is called as ``factory(args, ctx)`` with its resolved arguments and a
:class:`ModelContext`, and returns a :class:`Model`. The runner drives it one optimiser step at a
time through :meth:`Model.train_step`, so every model obeys the same budget, and evaluates it
through :meth:`Model.translate` (translation models, A→B by default) or :meth:`Model.sample`
(unconditional models). Models see images in [-1, 1]; the runner does the unit conversion.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import torch
from torch import nn

from medganbench.core.dataset import DatasetInfo


class Task(str, Enum):
    """What a model does at evaluation time."""

    TRANSLATE = "translate"
    SAMPLE = "sample"


@dataclass(frozen=True)
class ModelContext:
    """What the runner tells a model factory.

    Attributes:
        image_size: side length of the square training images.
        dataset: the dataset's declared facts (channels, windows, pairing).
        device: where the model must live.
        seed: the run's seed (the runner has already seeded all RNGs with it).
        amp: train (and translate or sample) under bf16 autocast, keeping weights, optimiser
            state and losses in fp32. The runner sets it from the run's precision
            (``RunSpec.precision`` as the device honours it); models that cannot use it ignore
            it.
        channels_last: keep weights and activations in channels-last memory format (CUDA only,
            when the run asks for it).
    """

    image_size: int
    dataset: DatasetInfo
    device: torch.device
    seed: int
    amp: bool = False
    channels_last: bool = False


@dataclass(frozen=True)
class TrainBatch:
    """One training batch, images in [-1, 1].

    On a volume dataset every image and mask has a depth axis: (N, C, D, H, W).

    Attributes:
        a: domain-A images, shape (N, C_a, H, W).
        b: domain-B images, shape (N, C_b, H, W).
        mask_a: body masks of ``a``, bool, shape (N, 1, H, W).
        mask_b: body masks of ``b``.
        paired: whether ``a[i]`` and ``b[i]`` show the same anatomy.
    """

    a: torch.Tensor
    b: torch.Tensor
    mask_a: torch.Tensor
    mask_b: torch.Tensor
    paired: bool


class Model(ABC):
    """A trainable (or non-learned) image model driven by the runner.

    Class attributes:
        task: :attr:`Task.TRANSLATE` or :attr:`Task.SAMPLE`.
        needs_paired_training: if true, the runner refuses an unpaired dataset before training.
        unpaired_training: if true, the runner draws the A and B images of each training batch
            independently (two shuffles), even from a paired dataset, and marks the batch
            unpaired. Cycle-consistent models set it: learning without correspondences is
            their use, and a paired phantom would otherwise leak pairing into training.
        cycle_consistent: the model translates both ways, so :attr:`eval_directions` may also
            name ``"a2b2a"``/``"b2a2b"``: the runner translates there and back and scores the
            result against the input, which is a true pair even on an unpaired dataset.
        learned: the model learns weights by gradient steps, so the run's precision (bf16
            autocast or fp32) can change its values. A non-learned baseline (``identity``,
            ``intensity-lookup``: :meth:`parameter_count` 0) sets it false; the leaderboard's
            tables then show no precision label beside its arguments (its rows still record
            the precision, and its run id does not change).
        batch_scaling: how the model's ``batch_size`` reads on several devices (``--devices
            N``): ``"global"`` (default), the images of one optimiser step over all devices,
            each device taking ``batch_size / N`` of them, so N devices repeat the
            single-device arithmetic up to the order of sums; ``"per-device"``, the images
            each device takes, so a step sees ``N × batch_size`` (for models whose reference
            trains one image per GPU, as CycleGAN's does).
        sync_batch_norm: on several GPUs, the batch-norm layers of :meth:`trained_modules`
            normalise over the global batch (``SyncBatchNorm``), as on one device. Default
            true; a model whose reference keeps per-device statistics sets it false. (CPU
            processes cannot synchronise batch norm: each keeps its own statistics.)
        spatial_dims: the dimensions of the images the model takes and makes: 2 (default;
            (N, C, H, W)) or 3 (volumes, (N, C, D, H, W), on a volume dataset: see
            :attr:`~medganbench.core.dataset.DatasetInfo.volume`). The runner refuses a model
            on a dataset of the other kind before anything is built. Added in 0.2.0.
    """

    task: ClassVar[Task]
    needs_paired_training: ClassVar[bool] = False
    unpaired_training: ClassVar[bool] = False
    cycle_consistent: ClassVar[bool] = False
    learned: ClassVar[bool] = True
    batch_scaling: ClassVar[str] = "global"
    sync_batch_norm: ClassVar[bool] = True
    spatial_dims: ClassVar[int] = 2

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        self.args = dict(args)
        self.ctx = ctx

    @property
    def batch_size(self) -> int:
        """Images per training step; models take it from their ``batch_size`` argument."""
        return int(self.args.get("batch_size", 1))

    @property
    def direction(self) -> str:
        """``"a2b"`` (default) or ``"b2a"``: which domain :meth:`translate` maps from."""
        return str(self.args.get("direction", "a2b"))

    @property
    def eval_directions(self) -> tuple[str, ...]:
        """Directions the runner evaluates, primary first; each gets its own leaderboard rows.

        Default: only :attr:`direction`. Models that translate both ways (cycle models)
        may return ``("a2b", "b2a")`` or the reverse, and, if :attr:`cycle_consistent`, the
        round trips ``"a2b2a"`` and ``"b2a2b"``.
        """
        return (self.direction,)

    @property
    def sampling_steps(self) -> int:
        """Network evaluations to make one output image: what one image costs at evaluation.

        Recorded on every row (``sampling_steps``) beside the measured seconds per image, so
        that a diffusion model's quality can be weighed against its cost. Default: 1 (a
        generator's one forward pass) for a learned model, 0 for a non-learned one; diffusion
        models return their sampler's steps. Added in 0.2.0.
        """
        return 1 if self.learned else 0

    def set_progress(self, fraction: float) -> None:
        """Told before every :meth:`train_step` how much of the budget is used, in [0, 1).

        The fraction is the largest over the budget's limits (steps, kimg, seconds), so a
        learning-rate schedule written against it works under any budget. Default: ignored.
        """

    @abstractmethod
    def train_step(self, batch: TrainBatch) -> Mapping[str, float | torch.Tensor]:
        """Do one optimiser step (or one update of a non-learned model's statistics).

        Returns:
            Named losses of this step: Python floats, or 0-dim tensors on the model's device.
            Tensors spare the step a device-to-host copy (a synchronisation on a GPU): the
            runner reads them every few steps, all at once. The runner stops the run with a
            clear message, naming the step, if any of them is not finite.
        """

    def translate(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        """Map source-domain images in [-1, 1] to target-domain images in [-1, 1].

        Called under ``torch.no_grad()`` after :meth:`eval_mode`. Translation models override
        this; shape (N, C_src, H, W) in, (N, C_tgt, H, W) out.

        Args:
            source: images of the direction's source domain.
            direction: ``"a2b"`` or ``"b2a"``; ``None`` means :attr:`direction`. Only the
                directions in :attr:`eval_directions` are ever asked for.
        """
        raise NotImplementedError(f"{type(self).__name__} does not translate")

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Draw ``n`` images in [-1, 1] from the model; unconditional models override this."""
        raise NotImplementedError(f"{type(self).__name__} does not sample")

    def eval_mode(self) -> None:
        """Switch to evaluation behaviour (e.g. ``nn.Module.eval()``); default nothing."""

    def train_mode(self) -> None:
        """Switch back to training behaviour; default nothing."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the model (weights, optimiser state, statistics)."""

    @abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def parameter_count(self) -> int:
        """Number of learned parameters; 0 for non-learned models."""
        return 0

    def trained_modules(self) -> Mapping[str, nn.Module]:
        """Every network whose parameters or buffers training changes, by name.

        What a run on several devices keeps equal on every device: their parameters and
        buffers start as process 0's, every gradient of their parameters is averaged over the
        devices before an optimiser uses it, and their batch-norm layers are synchronised on
        GPUs (see :attr:`sync_batch_norm`). The model's steps must run the same networks the
        same number of times on every device (the built-ins do). Optimisers are not listed:
        they hold the same parameters.

        Default: raises :class:`NotImplementedError`; such a model trains on one device, and a
        run with ``--devices`` above 1 refuses it naming this method (added in 0.2.0;
        optional, so plugins written before keep working).
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not declare trained_modules(), so it cannot be "
            "trained on several devices"
        )

    def inference_modules(self) -> Mapping[str, nn.Module]:
        """The networks :meth:`translate` or :meth:`sample` uses, by name; nothing else.

        What a run hands back: their ``state_dict`` tensors are the generator file a run
        writes beside its results and ``medganbench export`` ships (safetensors, no optimiser,
        no discriminator), and :func:`medganbench.api.load_generator` rebuilds the model from
        its factory with the run's arguments and loads them here (strictly: every name and
        shape must match). After that load, :meth:`translate`/:meth:`sample` must give the
        outputs the trained model gave. Names are Python identifiers. A model with no learned
        state returns ``{}``; a non-learned model with statistics keeps them in a module's
        buffers.

        Default: raises :class:`NotImplementedError`: the model's runs train and score as ever,
        but ``generate``, ``translate`` and ``export`` refuse them with a message naming this
        method (added in 0.2.0; optional, so plugins written before keep working).
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not declare inference_modules(), so what it trained "
            "cannot be exported or reloaded"
        )
