"""A trained generator as a ``torch.nn.Module``: rebuilt from its registered model, weights loaded.

:func:`load_generator` reads a run folder or an export (:func:`~medganbench.run.generator_files.read_generator`
checks every byte first), refuses a model that is not installed here or is of another version,
checks the arguments as a run would, builds the model with the run's arguments, image size,
dataset facts, seed and precision, and loads the inference weights strictly. The result's outputs
equal the trained model's bit for bit on the same device and precision.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from medganbench.core.dataset import DomainInfo
from medganbench.core.manager import Registries
from medganbench.core.model import Model, ModelContext, Task
from medganbench.errors import GeneratorFileError, UnknownNameError, UsageError
from medganbench.run.device import pick_device
from medganbench.run.directions import translate_items
from medganbench.run.evaluate import EVAL_BATCH_SIZE
from medganbench.run.generator_files import (
    GeneratorConfig,
    GeneratorFiles,
    load_inference_state,
    read_generator,
)
from medganbench.run.volume_slices import SLICE_PLANE


class Generator(nn.Module):
    """A trained model's inference networks, in evaluation mode, ready to translate or sample.

    ``forward`` works in the models' own range, [-1, 1]: a translator maps a batch of source
    images (N, C, S, S) to target images; :meth:`translate` and :meth:`sample` work in the
    dataset's physical units (HU for CT). Its submodules (``nets``) are the model's
    :meth:`~medganbench.core.model.Model.inference_modules`. Build it with
    :func:`load_generator` on the device you want: the model keeps that device for the noise it
    draws, so move it by loading again, not with ``.to()``.

    Attributes:
        config: what the generator files say (run, model, dataset, windows, precision).
        model: the rebuilt model.
    """

    def __init__(self, model: Model, config: GeneratorConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config
        self.nets = nn.ModuleDict(dict(model.inference_modules()))
        self.eval()

    @property
    def task(self) -> Task:
        return self.model.task

    @property
    def device(self) -> torch.device:
        return self.model.ctx.device

    @property
    def directions(self) -> tuple[str, ...]:
        """The translation directions it was trained for (primary first)."""
        return tuple(d for d in self.config.directions if len(d) == 3)

    def train(self, mode: bool = True) -> Generator:
        """Switch the networks *and* the model's own mode (e.g. pix2pix's test-time dropout)."""
        super().train(mode)
        if hasattr(self, "model"):
            (self.model.train_mode if mode else self.model.eval_mode)()
        return self

    def domains(self, direction: str | None = None) -> tuple[DomainInfo, DomainInfo]:
        """(source, target) domain of ``direction`` (default: the primary one); a sampler's
        source is its target."""
        info = self.config.dataset_info
        chosen = self.check_direction(direction)
        source, target = info.domain(chosen[0]), info.domain(chosen[-1])  # type: ignore[arg-type]
        return (target, target) if self.task is Task.SAMPLE else (source, target)

    def check_direction(self, direction: str | None) -> str:
        """``direction`` or the primary one, if the generator was trained for it.

        Raises:
            UsageError: another direction.
        """
        primary = self.config.directions[0]
        if direction is None:
            return primary
        allowed = self.directions or (primary,)
        if direction not in allowed:
            raise UsageError(
                f"{self.config.model} (run {self.config.run_id}) translates "
                f"{' and '.join(allowed)}, not {direction}."
            )
        return direction

    def forward(self, source: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        """Translate images in [-1, 1] (N, C, S, S) to images in [-1, 1], as evaluation does
        (a 3-D model: volumes (N, C, D, H, W), whole volumes window by window where its
        dataset's evaluation did so)."""
        if self.task is not Task.TRANSLATE:
            raise UsageError(f"{self.config.model} samples; call sample(n) instead.")
        with torch.no_grad():
            return translate_items(
                self.model,
                source.to(self.device),
                self.check_direction(direction),
                self.config.dataset_info,
            )

    def expected_shape(self, images: torch.Tensor, channels: int) -> tuple[int, ...]:
        """The shape (without N) :meth:`translate` takes: (C, S, S) images, or the volumes of
        the model's dataset ((C, D, H, W) of its declared size; the axial length free where
        it evaluated whole volumes)."""
        geometry = self.config.dataset_info.volume
        size = self.config.image_size
        if geometry is None:
            return (channels, size, size)
        shape = list(geometry.size)
        if geometry.whole_volumes and images.ndim == 5:
            axis = geometry.plane_axis(SLICE_PLANE)
            shape[axis] = int(images.shape[2 + axis])
        return (channels, *shape)

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        """Translate (N, C, S, S) images (a 3-D model: volumes, :meth:`expected_shape`) in the
        source domain's units; the result is in the target domain's units (values outside the
        source window are clipped to it first, as for training). Batches of 16, as evaluation
        takes them."""
        chosen = self.check_direction(direction)
        source, target = self.domains(chosen)
        expected = self.expected_shape(images, source.channels)
        if images.ndim != 1 + len(expected) or tuple(images.shape[1:]) != expected:
            raise UsageError(
                f"{self.config.model} translates images of shape (N, {', '.join(map(str, expected))}); "
                f"got {tuple(images.shape)}."
            )
        out = [
            target.from_unit(self(source.to_unit(chunk.to(self.device).float()), chosen).float())
            for chunk in torch.split(images, EVAL_BATCH_SIZE)
        ]
        return (
            torch.cat(out).cpu() if out else images.new_empty((0, target.channels, *expected[1:]))
        )

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` samples (n, C, S, S) in the target domain's units, deterministic for ``seed``:
        drawn 16 at a time from one generator seeded with ``seed``, as evaluation draws them
        (so the run's seed gives the run's evaluated samples)."""
        return torch.cat(list(self.sample_batches(n, seed)))

    def sample_batches(self, n: int, seed: int = 0) -> Iterator[torch.Tensor]:
        """The batches (of at most 16) :meth:`sample` draws, one at a time.

        Raises:
            UsageError: a translation model, or ``n`` < 1 (at once, not at the first batch).
        """
        if self.task is not Task.SAMPLE:
            raise UsageError(f"{self.config.model} translates; call translate(images) instead.")
        if n < 1:
            raise UsageError(f"n={n}: ask for at least one sample.")
        _, target = self.domains()
        generator = torch.Generator(device=self.device).manual_seed(seed)

        @torch.no_grad()
        def draws() -> Iterator[torch.Tensor]:
            for start in range(0, n, EVAL_BATCH_SIZE):
                count = min(EVAL_BATCH_SIZE, n - start)
                yield target.from_unit(self.model.sample(count, generator).float()).cpu()

        return draws()


def load_generator(
    path: Path | str, registries: Registries, device: str | torch.device | None = None
) -> Generator:
    """Rebuild the generator of a run folder or an export folder.

    Args:
        path: ``runs/<run id>`` or a folder ``medganbench export`` wrote.
        registries: the installed plugins (the model must be one of them, same version).
        device: ``None`` picks CUDA when present, else the CPU.

    Raises:
        GeneratorFileError: the files are missing or damaged (see
            :func:`~medganbench.run.generator_files.read_generator`), the model is not
            installed here or is another version, its arguments are refused, or the weights do
            not fit the network the arguments build.
    """
    return build_generator(read_generator(Path(path)), registries, device, str(path))


def build_generator(
    files: GeneratorFiles,
    registries: Registries,
    device: str | torch.device | None = None,
    folder: str = "the generator",
) -> Generator:
    """The generator of files :func:`~medganbench.run.generator_files.read_generator` read and
    checked: the model built from its registered factory, the weights loaded strictly.

    Raises:
        GeneratorFileError: the model is not installed here or is another version, its
            arguments are refused, or the weights do not fit (``folder`` names where they came
            from).
    """
    config = files.config
    try:
        spec = registries.models.get(config.model)
    except UnknownNameError:
        raise GeneratorFileError(
            f"{folder} holds a {config.model!r} generator, a model not installed here.",
            hint="Install the plugin that provides it (medganbench plugins lists those present).",
        ) from None
    if spec.version != config.model_version:
        raise GeneratorFileError(
            f"{folder} holds a {config.model!r} generator of version {config.model_version}; "
            f"the installed {config.model!r} is version {spec.version}, whose network may differ.",
            hint="Install the medganbench (or plugin) release that trained it.",
        )
    chosen = pick_device(None if device is None else str(device))
    ctx = ModelContext(config.image_size, config.dataset_info, chosen, config.seed, amp=config.amp)
    try:
        with _own_rng(chosen):
            # build() checks the arguments as a run does (names, types, ranges).
            model: Model = spec.build(config.model_args, ctx)
    except UsageError as exc:
        raise GeneratorFileError(
            f"{folder}: its model arguments are refused: {exc.message}"
        ) from None
    try:
        model.inference_modules()
    except NotImplementedError as exc:
        raise GeneratorFileError(f"{folder}: {exc}.") from None
    load_inference_state(model, files.state, folder)
    return Generator(model, config)


@contextmanager
def _own_rng(device: torch.device) -> Iterator[None]:
    """Building a model draws initial weights from the global RNGs; they are the caller's, so
    their state is put back afterwards (the weights are replaced anyway)."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


__all__ = ["Generator", "build_generator", "load_generator"]
