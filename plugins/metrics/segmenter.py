"""The harness's segmenter: MONAI's BasicUNet trained under one declared recipe, and its cache.

The downstream-utility metrics ask whether generated images segment like real ones. They need a
segmenter that is a fixed instrument, not a choice: :data:`SEGMENTER_NAME` (MONAI's
``BasicUNet``, 2-D) at :data:`SEGMENTER_VERSION`, trained by :func:`train_segmenter` under a
:class:`SegmenterRecipe` (its budget of steps, batch, learning rate, widths, loss) with a seed, on a
dataset's real training images and their label maps. The recipe's :meth:`~SegmenterRecipe.identity`
is part of the metric's identity; changing what the recipe does without changing a field (the
input mapping, the optimiser, the batch order) bumps :data:`SEGMENTER_VERSION`.

MONAI's version is *not* in the identity, as torch's is not in any model's: it is the environment
(:func:`monai_version` gives it for a metric's details, and each cached file records it). The
recipe fixes the architecture and training; a MONAI release that changed what ``BasicUNet`` or
``DiceCELoss`` compute would need a new :data:`SEGMENTER_VERSION`.

The recipe's defaults, measured on phantom-brain CT at 64 px (128 training slices, 9 classes;
benchmarks/README.md has the figures): 400 Adam steps of 8 slices at a constant learning rate of
3e-3, widths (16, 16, 32, 64, 128, 16) (0.5 M parameters; a third of the cost per step of
MONAI's default widths), Dice + cross-entropy. Training then takes about 27 s on 2 cores (54 CPU-seconds; 35 to
45 s on one thread) and reaches a mean Dice of 0.77 to 0.79 over seeds on the eight foreground
classes of the real test slices (0.88 to 0.90 without the lesion class, which it never finds).

- **Loss: Dice + cross-entropy** (``monai.losses.DiceCELoss``, softmax, one-hot labels, the Dice
  term over the whole batch). Cross-entropy alone is dominated by background and the large
  tissues; the Dice term weighs every class alike, which is what the metrics score, and helps
  the small ones: deep grey nuclei (0.4 % of the pixels) reach Dice 0.62 against 0.51 with
  cross-entropy alone, at the same cost (seed 0).
- **Batches of 8** rather than 16: at a fixed cost, twice the optimiser steps, which mattered
  more than batch size here; the network's instance norm does not need large batches.
- **No augmentation.** The segmenter scores images on the dataset's own grid and geometry, real
  and generated alike; augmentation would add choices to the identity and cost steps.
- **Input:** each channel mapped linearly from the domain's window to [-1, 1] and clamped, as the
  models see images (:meth:`medganbench.core.dataset.DomainInfo.to_unit`).

Determinism: the initialisation is drawn under :func:`torch.random.fork_rng` from the seed and the
batches from a :class:`torch.Generator` of its own, so training neither reads nor changes the
global random state, and the same seed gives the same weights on the same machine, threads and
library versions. Training uses the torch threads the caller set.

:func:`cached_segmenter` keeps trained weights in ``cache_dir / "segmenters"``, one safetensors
file per key (nothing is unpickled), written atomically; a file that does not load into the
network exactly (other names, shapes or dtypes, non-finite values, another key, corrupt) is
ignored, and the segmenter trained again and saved over it. Not a plugin module: it registers
nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from medganbench.errors import DataError, RunError, UsageError
from medganbench.fileio import write_bytes
from medganbench_plugins.metrics.paired_inputs import check_window

__all__ = [
    "LOSSES",
    "SEGMENTER_NAME",
    "SEGMENTER_VERSION",
    "SegmenterRecipe",
    "build_segmenter",
    "cache_digest",
    "cache_path",
    "cached_segmenter",
    "monai_version",
    "segment",
    "train_segmenter",
]

SEGMENTER_NAME = "basicunet"
#: Bumped whenever the same recipe fields would train a different network.
SEGMENTER_VERSION = "1"
#: The losses a recipe may name.
LOSSES = ("dice-ce", "ce")


@dataclass(frozen=True)
class SegmenterRecipe:
    """How the segmenter is built and trained: every field is part of its identity.

    Attributes:
        steps: optimiser steps (the training budget); batches are drawn as successive slices of
            seeded shuffles of the training set, a new shuffle when one runs out.
        batch_size: slices per step (all of them when the set is smaller).
        lr: Adam's learning rate, constant (betas 0.9, 0.999; no weight decay).
        features: ``BasicUNet``'s widths: five encoder levels and the last decoder level.
        loss: ``"dice-ce"`` (Dice + cross-entropy, weights 1 and 1) or ``"ce"``.
    """

    steps: int = 400
    batch_size: int = 8
    lr: float = 3e-3
    features: tuple[int, ...] = (16, 16, 32, 64, 128, 16)
    loss: str = "dice-ce"

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise UsageError(f"segmenter recipe: steps and batch_size must be ≥ 1, got {self}.")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"segmenter recipe: lr must be a positive number, got {self.lr}.")
        if len(self.features) != 6 or min(self.features) < 1:
            raise UsageError(
                f"segmenter recipe: features must be six positive widths, got {self.features}."
            )
        if self.loss not in LOSSES:
            raise UsageError(f"segmenter recipe: loss must be one of {LOSSES}, got {self.loss!r}.")

    def identity(self) -> dict[str, Any]:
        """The segmenter's name and version and every recipe field, JSON-ready (no MONAI
        version: see the module docstring)."""
        fields = asdict(self)
        fields["features"] = list(self.features)
        return {"segmenter": SEGMENTER_NAME, "segmenter_version": SEGMENTER_VERSION, **fields}


def monai_version() -> str:
    """The installed MONAI's version, for a metric's details (provenance, not identity)."""
    import monai

    return str(monai.__version__)


def build_segmenter(in_channels: int, n_classes: int, recipe: SegmenterRecipe) -> torch.nn.Module:
    """An untrained 2-D ``BasicUNet`` of the recipe's widths, on the CPU, initialised from the
    global random state (:func:`train_segmenter` seeds it; to load cached weights, any will do)."""
    # Imported here: importing MONAI takes seconds, which listing the plugins must not pay. From
    # the defining modules: the packages' re-exports are implicit, which strict mypy refuses.
    from monai.networks.nets.basic_unet import BasicUNet

    return BasicUNet(
        spatial_dims=2, in_channels=in_channels, out_channels=n_classes, features=recipe.features
    )


def _to_unit(images: torch.Tensor, window: tuple[float, float]) -> torch.Tensor:
    lo, hi = window
    return (images.float().clamp(lo, hi) - lo) * (2.0 / (hi - lo)) - 1.0


def _check_training_data(images: torch.Tensor, labels: torch.Tensor, n_classes: int) -> None:
    if images.dim() != 4 or images.shape[0] == 0 or not images.is_floating_point():
        raise DataError(
            f"segmenter: training images must be a float (N, C, H, W) tensor with N ≥ 1, got "
            f"{images.dtype} of shape {tuple(images.shape)}."
        )
    if labels.dtype != torch.int64 or labels.shape != (images.shape[0], 1, *images.shape[2:]):
        raise DataError(
            f"segmenter: labels must be int64 (N, 1, H, W) matching the images "
            f"{tuple(images.shape)}, got {labels.dtype} of shape {tuple(labels.shape)}."
        )
    if n_classes < 2:
        raise DataError(f"segmenter: needs at least 2 classes, got {n_classes}.")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= n_classes:
        raise DataError(
            f"segmenter: labels must lie in 0..{n_classes - 1}, found {low}..{high}.",
            hint="Pass the number of classes the dataset declares (len(info.labels)).",
        )


def _loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """logits (B, K, H, W), labels (B, 1, H, W) → the recipe's scalar loss."""
    if name == "ce":
        cross_entropy = torch.nn.CrossEntropyLoss()
        return lambda logits, labels: cross_entropy(logits, labels[:, 0])
    from monai.losses.dice import DiceCELoss

    # batch=True: one Dice per class over the whole batch, not per slice: a slice that lacks a
    # class adds no near-0/0 term, and small classes get a steadier gradient.
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = DiceCELoss(
        to_onehot_y=True, softmax=True, batch=True
    )
    return loss


def train_segmenter(
    images: torch.Tensor,
    labels: torch.Tensor,
    n_classes: int,
    window: tuple[float, float],
    recipe: SegmenterRecipe,
    seed: int,
    device: torch.device,
) -> torch.nn.Module:
    """Train the segmenter on labelled images under ``recipe``, seeded; the global RNG is untouched.

    Args:
        images: float (N, C, H, W) in the domain's physical units (mapped through ``window``).
        labels: int64 (N, 1, H, W), each pixel's class in ``0..n_classes - 1``.
        n_classes: the number of classes the network predicts (background included).
        window: the domain's value window ``(low, high)``.
        recipe: the declared recipe.
        seed: seeds the initialisation and the batch order.
        device: where to train; the data moves there one batch at a time.

    Returns:
        The trained network on ``device``, in eval mode.

    Raises:
        DataError: malformed images, labels or window.
        RunError: the loss became non-finite.
    """
    _check_training_data(images, labels, n_classes)
    window = check_window(window, "segmenter")
    inputs = _to_unit(images.detach().cpu(), window)
    targets = labels.detach().cpu()
    # The initialisation draws from the global CPU generator: seeded inside a fork, so the
    # caller's random state is the same afterwards and does not influence the weights. Only the
    # CPU generator is seeded (torch.manual_seed would seed every GPU's too, outside the fork).
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        net = build_segmenter(images.shape[1], n_classes, recipe)
    net.to(device).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    loss_fn = _loss(recipe.loss)
    order = torch.Generator().manual_seed(seed)
    n, batch = len(inputs), min(recipe.batch_size, len(inputs))
    shuffle, position = torch.randperm(n, generator=order), 0
    loss = torch.zeros(())
    for _ in range(recipe.steps):
        if position + batch > n:
            shuffle, position = torch.randperm(n, generator=order), 0
        index = shuffle[position : position + batch]
        position += batch
        logits = net(inputs[index].to(device))
        loss = loss_fn(logits, targets[index].to(device))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
    # Checked once at the end: a non-finite loss stays non-finite, and reading the loss every
    # step would wait for the device every step.
    final = float(loss.detach())
    if not math.isfinite(final):
        raise RunError(f"The segmenter's loss became {final} during its training.")
    return net.eval()


def segment(
    net: torch.nn.Module, images: torch.Tensor, window: tuple[float, float], batch_size: int = 32
) -> torch.Tensor:
    """Each pixel's most likely class under ``net``, in eval mode and without gradients.

    Args:
        net: a segmenter (from :func:`train_segmenter` or :func:`cached_segmenter`).
        images: float (N, C, H, W) in the domain's physical units.
        window: the domain's value window, as in training.
        batch_size: images per forward pass (the result does not depend on it: instance norm).

    Returns:
        int64 (N, 1, H, W) on the CPU, values in ``0..K - 1`` for a network of K classes. The
        network's train/eval mode is as it was before the call.

    Raises:
        DataError: ``images`` is not a float (N, C, H, W) tensor, or a bad window.
    """
    if images.dim() != 4 or not images.is_floating_point():
        raise DataError(
            f"segment: images must be a float (N, C, H, W) tensor, got {images.dtype} of shape "
            f"{tuple(images.shape)}."
        )
    window = check_window(window, "segment")
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    found = []
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                chunk = _to_unit(images[start : start + batch_size].to(device), window)
                found.append(net(chunk).argmax(1, keepdim=True).cpu())
    finally:
        net.train(was_training)
    if not found:
        return torch.zeros((0, 1, *images.shape[2:]), dtype=torch.int64)
    return torch.cat(found)


def cache_digest(key: Mapping[str, Any]) -> str:
    """sha256 of ``key`` as canonical JSON (sorted keys, no spaces, UTF-8).

    Raises:
        TypeError: a value JSON cannot hold (use lists, strings, numbers, booleans).
    """
    return hashlib.sha256(_canonical(key).encode("utf-8")).hexdigest()


def _canonical(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_path(cache_dir: Path, key: Mapping[str, Any]) -> Path:
    """Where the segmenter of ``key`` is cached: ``cache_dir/segmenters/<sha256>.safetensors``."""
    return cache_dir / "segmenters" / f"{cache_digest(key)}.safetensors"


def _load_checked(path: Path, module: torch.nn.Module, key_json: str) -> bool:
    """Load ``path`` into ``module`` if it matches exactly; ``False`` (module untouched) if not."""
    from safetensors import SafetensorError, safe_open

    expected = module.state_dict()
    try:
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("key") != key_json or set(f.keys()) != set(expected):
                return False
            tensors = {name: f.get_tensor(name) for name in expected}
    except (OSError, SafetensorError, ValueError, RuntimeError):
        return False  # missing, truncated, not safetensors, bad header
    for name, value in tensors.items():
        want = expected[name]
        if value.shape != want.shape or value.dtype != want.dtype:
            return False
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return False
    module.load_state_dict(tensors, strict=True)
    return True


def _save(path: Path, module: torch.nn.Module, key_json: str) -> None:
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    metadata = {"key": key_json, "segmenter": SEGMENTER_NAME, "monai": monai_version()}
    write_bytes(path, save(state, metadata=metadata))


def cached_segmenter(
    cache_dir: Path | None,
    key: Mapping[str, Any],
    train: Callable[[], torch.nn.Module],
    build: Callable[[], torch.nn.Module],
) -> torch.nn.Module:
    """The segmenter of ``key``: loaded from the cache when a valid file is there, else trained.

    Args:
        cache_dir: the cache's root (files go to ``cache_dir/segmenters``); ``None``: no
            caching, ``train()`` is called every time.
        key: everything that determines the trained weights (the caller's choice: dataset
            fingerprint, domain, split, window, classes, recipe identity, seed); JSON values.
        train: trains the segmenter (called only on a miss).
        build: an untrained network of the same architecture, placed where the caller wants it;
            a cached file's weights are loaded into it.

    Returns:
        ``build()`` with the cached weights, or ``train()``'s network (then saved, atomically,
        replacing any invalid file). Either way in eval mode.

    Raises:
        TypeError: ``key`` holds a value JSON cannot.
    """
    if cache_dir is None:
        return train().eval()
    path, key_json = cache_path(cache_dir, key), _canonical(key)
    if path.is_file():
        module = build()
        if _load_checked(path, module, key_json):
            return module.eval()
    net = train()
    _save(path, net, key_json)
    return net.eval()
