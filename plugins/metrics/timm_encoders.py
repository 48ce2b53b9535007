"""The timm encoders (DINOv2, RadDINO, SwAV ResNet-50) and their weight converters.

Every network is ``timm.create_model(name, pretrained=False, num_classes=0, ...)`` given the
verified tensors with ``load_state_dict(strict=True)`` after timm's own checkpoint filter for
the architecture (which resamples a ViT's position embeddings to the input size, exactly as
timm's pretrained loading does). Nothing is unpickled: the hub files are safetensors, and the
SwAV release file is read with ``torch.load(weights_only=True)``.

Preprocessing, the same for all (see :func:`to_input`): the metric's uint8 RGB (grey repeated
to three channels, quantised through the target window) → float in [0, 1] → resized to the
encoder's input with antialiased bicubic interpolation (PIL's kernel, as ``dgm-eval`` resizes)
when the size differs → normalised with the encoder's mean and std.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from medganbench.core.encoder import Encoder, EncoderContext
from medganbench.weights.sources import WeightsError
from medganbench.weights.store import Tensors, load_tensors

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: RadDINO's processor configuration (microsoft/rad-dino ``preprocessor_config.json``).
RADDINO_MEAN = (0.5307, 0.5307, 0.5307)
RADDINO_STD = (0.2583, 0.2583, 0.2583)


def to_input(
    images: torch.Tensor, size: int, mean: tuple[float, ...], std: tuple[float, ...]
) -> torch.Tensor:
    """uint8 (N, 3, H, W) → normalised float32 (N, 3, size, size) (see the module docstring)."""
    x = images.float() / 255.0
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def read_timm(path: Path) -> Tensors:
    """A timm checkpoint as published on the hub: safetensors only (nothing unpickled).

    Raises:
        WeightsError: not a safetensors file of tensors.
    """
    if not _is_safetensors_file(path):
        raise WeightsError(f"{Path(path).name} is not a safetensors file.")
    return load_tensors(path)


def _is_safetensors_file(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


#: transformers' Dinov2Model names → timm's VisionTransformer names (per block: ``{i}``).
_HF_TO_TIMM_BLOCK = {
    "norm1": "norm1",
    "norm2": "norm2",
    "attention.output.dense": "attn.proj",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
_HF_TO_TIMM_TOP = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}


def hf_dinov2_to_timm(hf: Mapping[str, torch.Tensor]) -> Tensors:
    """transformers' ``Dinov2Model`` state dict → timm's ``vit_*_patch14_dinov2`` layout.

    Query, key and value are concatenated into timm's ``qkv``; the layer scales become
    ``ls1.gamma``/``ls2.gamma``; the mask token (unused for features) is dropped.

    Raises:
        WeightsError: a tensor is left over or missing (not a Dinov2Model checkpoint).
    """
    src = {k.removeprefix("dinov2."): v for k, v in hf.items()}
    src.pop("embeddings.mask_token", None)
    out: Tensors = {}
    for old, new in _HF_TO_TIMM_TOP.items():
        if old in src:
            out[new] = src.pop(old)
    blocks = sorted({int(k.split(".")[2]) for k in src if k.startswith("encoder.layer.")})
    for i in blocks:
        pre = f"encoder.layer.{i}."
        for old, new in _HF_TO_TIMM_BLOCK.items():
            for kind in ("weight", "bias"):
                if f"{pre}{old}.{kind}" in src:
                    out[f"blocks.{i}.{new}.{kind}"] = src.pop(f"{pre}{old}.{kind}")
        for kind in ("weight", "bias"):
            names = ("query", "key", "value")
            parts = [src.pop(f"{pre}attention.attention.{n}.{kind}", None) for n in names]
            if any(p is None for p in parts):
                raise WeightsError(f"Block {i} lacks attention {kind}s ({'/'.join(names)}).")
            out[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat(parts)  # type: ignore[arg-type]
        for n in (1, 2):
            if f"{pre}layer_scale{n}.lambda1" in src:
                out[f"blocks.{i}.ls{n}.gamma"] = src.pop(f"{pre}layer_scale{n}.lambda1")
    if src:
        raise WeightsError(f"Not a DINOv2 checkpoint: unexpected tensors {sorted(src)[:5]}…")
    return out


def read_dinov2_small(path: Path) -> Tensors:
    """timm's DINOv2 ViT-S/14 hub file, checked against the architecture."""
    return DinoV2Small.check_fits(read_timm(path))


def read_dinov2_base(path: Path) -> Tensors:
    """timm's DINOv2 ViT-B/14 hub file, checked against the architecture."""
    return DinoV2Base.check_fits(read_timm(path))


def convert_raddino(path: Path) -> Tensors:
    """RadDINO's hub file (transformers layout, safetensors) → timm layout, checked."""
    return RadDino.check_fits(hf_dinov2_to_timm(read_timm(path)))


_SWAV_HEADS = ("projection_head.", "prototypes.")


def convert_swav(path: Path) -> Tensors:
    """The SwAV release file (``torch.save`` of a state dict with ``module.`` prefixes, read
    with ``weights_only=True``) → timm's ``resnet50`` trunk; the projection head and the
    prototypes (training-only) are dropped.
    """
    raw = load_tensors(path)
    trunk = {k.removeprefix("module."): v for k, v in raw.items()}
    return SwavResNet50.check_fits(
        {k: v for k, v in trunk.items() if not k.startswith(_SWAV_HEADS)}
    )


class TimmEncoder(Encoder):
    """A timm network given verified tensors (see the module docstring).

    Class attributes:
        model_name: the timm architecture.
        create_kwargs: extra ``create_model`` arguments (``img_size``).
        input_size, mean, std: the preprocessing.
        layer: the features in words, for :attr:`preprocessing`.
    """

    model_name: ClassVar[str]
    create_kwargs: ClassVar[dict[str, Any]] = {}
    input_size: ClassVar[int] = 224
    mean: ClassVar[tuple[float, ...]] = IMAGENET_MEAN
    std: ClassVar[tuple[float, ...]] = IMAGENET_STD
    layer: ClassVar[str]
    batch_size: int = 16

    def __init__(self, args: Mapping[str, Any], ctx: EncoderContext) -> None:
        super().__init__(args, ctx)
        import timm

        if ctx.tensors is None:
            raise WeightsError(f"{type(self).__name__} needs its weights.")
        # Built on the meta device (no random initialisation to throw away), then given the
        # tensors; strict, so a parameter or buffer left out would be an error, never meta.
        with torch.device("meta"):
            net = timm.create_model(
                self.model_name, pretrained=False, num_classes=0, **self.create_kwargs
            )
        state = self.filter_state(dict(ctx.tensors), net)
        try:
            net.load_state_dict(state, strict=True, assign=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise WeightsError(f"The weights do not fit {self.model_name}: {first}") from None
        if any(t.is_meta for t in [*net.parameters(), *net.buffers()]):
            raise WeightsError(f"{self.model_name} has tensors its weights do not provide.")
        self.net = net.eval().to(ctx.device)
        self.dim = int(net.num_features)
        self.preprocessing = (
            f"timm {self.model_name}, {self.layer} ({self.dim}); uint8 RGB (grey repeated) "
            f"resized to {self.input_size} px (bicubic, antialiased), normalised with mean "
            f"{list(self.mean)} std {list(self.std)}"
        )

    @classmethod
    def filter_state(cls, state: Tensors, net: torch.nn.Module) -> Tensors:
        """The published tensors adapted to ``net`` (default: as they are)."""
        return state

    @classmethod
    def check_fits(cls, state: Tensors) -> Tensors:
        """``state`` if it fits this encoder's network (names and shapes), checked on a network
        built on the meta device (no memory, no initialisation).

        Raises:
            WeightsError: a tensor is missing, extra or of another shape.
        """
        import timm

        with torch.device("meta"):
            net = timm.create_model(
                cls.model_name, pretrained=False, num_classes=0, **cls.create_kwargs
            )
        adapted = cls.filter_state(dict(state), net)
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        got = {k: tuple(v.shape) for k, v in adapted.items()}
        if got != expected:
            wrong = sorted(set(got) ^ set(expected)) or [
                f"{k} {got[k]} (expected {expected[k]})" for k in expected if got[k] != expected[k]
            ]
            raise WeightsError(f"These are not {cls.model_name} weights: {', '.join(wrong[:3])}")
        return state

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        parts = [
            self.net(to_input(chunk, self.input_size, self.mean, self.std).to(self.ctx.device))
            .float()
            .cpu()
            for chunk in images.split(self.batch_size)
        ]
        return torch.cat(parts)


class _DinoV2(TimmEncoder):
    layer = "CLS token after the final norm"

    @classmethod
    def filter_state(cls, state: Tensors, net: torch.nn.Module) -> Tensors:
        from timm.models.vision_transformer import checkpoint_filter_fn

        return dict(checkpoint_filter_fn(state, net))


class DinoV2Small(_DinoV2):
    """DINOv2 ViT-S/14 at 224 px."""

    model_name = "vit_small_patch14_dinov2"
    create_kwargs = {"img_size": 224}


class DinoV2Base(_DinoV2):
    """DINOv2 ViT-B/14 at 224 px."""

    model_name = "vit_base_patch14_dinov2"
    create_kwargs = {"img_size": 224}


class RadDino(_DinoV2):
    """RadDINO (DINOv2 ViT-B/14 architecture) at 518 px with its own normalisation."""

    model_name = "vit_base_patch14_dinov2"
    create_kwargs = {"img_size": 518}
    input_size = 518
    mean = RADDINO_MEAN
    std = RADDINO_STD


class SwavResNet50(TimmEncoder):
    """SwAV ResNet-50 trunk at 224 px, global average pool."""

    model_name = "resnet50"
    layer = "global average pool"
