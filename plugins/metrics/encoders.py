"""The built-in feature encoders of the distribution metrics, and their weights artifacts.

``--metric-arg fd.encoder=NAME`` (and the same for ``kid``, ``precision``, ``recall``,
``density``, ``coverage``) picks one:

============== ===================================== ============ ============================
name           network (``timm.create_model``)        input        features
============== ===================================== ============ ============================
inception      torch-fidelity inception-v3-compat     299 px (TF1) pool3, 2048 (FID's own)
dinov2-vits14  ``vit_small_patch14_dinov2``           224 px       CLS token after norm, 384
dinov2-vitb14  ``vit_base_patch14_dinov2``            224 px       CLS token after norm, 768
raddino        ``vit_base_patch14_dinov2`` (RadDINO)  518 px       CLS token after norm, 768
swav-resnet50  ``resnet50`` (SwAV, 800 epochs)        224 px       global average pool, 2048
============== ===================================== ============ ============================

DINOv2 runs at 224 px, the input of Stein et al. (NeurIPS 2023, ``dgm-eval``), whose
recommendation this follows; timm's own configuration for these weights says 518 px (the last
stage of DINOv2's training), and the position embeddings are resampled from 37×37 to 16×16 by
timm's own checkpoint filter, as ``timm.create_model(..., pretrained=True, img_size=224)`` does.
RadDINO runs at 518 px, the size its processor configuration resizes and crops radiographs to.

Declaring these (this module) imports neither timm nor the networks; the encoders themselves are
in :mod:`medganbench_plugins.metrics.timm_encoders` and :mod:`.inception_net`.
"""

from __future__ import annotations

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import EncoderSpec, WeightsSpec
from medganbench.weights.sources import HubSource, UrlSource
from medganbench_plugins.metrics.inception import FID_INCEPTION

_TIMM = "medganbench_plugins.metrics.timm_encoders"

#: The SwAV authors' release file (facebookresearch/swav ``hubconf.py``). Its sha256 is not
#: published and could not be read here (no route to dl.fbaipublicfiles.com): unpinned.
SWAV_URL = "https://dl.fbaipublicfiles.com/deepcluster/swav_800ep_pretrain.pth.tar"

#: The hub files' sha256 could not be read from this machine (no route to the hub): the sources
#: are unpinned until someone with access pins them (see docs/weights.md).
DINOV2_VITS14 = WeightsSpec(
    name="dinov2-vits14",
    summary="DINOv2 ViT-S/14 (LVD-142M), timm's safetensors on the Hugging Face hub",
    sources=(
        HubSource(
            "timm/vit_small_patch14_dinov2.lvd142m",
            "model.safetensors",
            f"{_TIMM}:read_dinov2_small",
        ),
    ),
)
DINOV2_VITB14 = WeightsSpec(
    name="dinov2-vitb14",
    summary="DINOv2 ViT-B/14 (LVD-142M), timm's safetensors on the Hugging Face hub",
    sources=(
        HubSource(
            "timm/vit_base_patch14_dinov2.lvd142m",
            "model.safetensors",
            f"{_TIMM}:read_dinov2_base",
        ),
    ),
)
RADDINO = WeightsSpec(
    name="raddino",
    summary="RadDINO (Microsoft, chest radiographs; DINOv2 ViT-B/14), transformers safetensors",
    sources=(HubSource("microsoft/rad-dino", "model.safetensors", f"{_TIMM}:convert_raddino"),),
)
SWAV_RESNET50 = WeightsSpec(
    name="swav-resnet50",
    summary="SwAV ResNet-50 (ImageNet, 800 epochs), the authors' release file",
    sources=(UrlSource(SWAV_URL, "", f"{_TIMM}:convert_swav"),),
)

ENCODERS: tuple[EncoderSpec, ...] = (
    EncoderSpec(
        name="inception",
        summary="InceptionV3 (TF 2015-12-05) pool features, the network of FID/KID",
        version="1",
        factory="medganbench_plugins.metrics.inception_net:InceptionEncoder",
        weights=FID_INCEPTION,
    ),
    EncoderSpec(
        name="dinov2-vits14",
        summary="DINOv2 ViT-S/14 CLS token at 224 px (Stein et al. 2023's choice of family)",
        version="1",
        factory=f"{_TIMM}:DinoV2Small",
        weights=DINOV2_VITS14,
    ),
    EncoderSpec(
        name="dinov2-vitb14",
        summary="DINOv2 ViT-B/14 CLS token at 224 px",
        version="1",
        factory=f"{_TIMM}:DinoV2Base",
        weights=DINOV2_VITB14,
    ),
    EncoderSpec(
        name="raddino",
        summary="RadDINO (DINOv2 ViT-B/14 trained on chest radiographs) CLS token at 518 px",
        version="1",
        factory=f"{_TIMM}:RadDino",
        weights=RADDINO,
    ),
    EncoderSpec(
        name="swav-resnet50",
        summary="SwAV ResNet-50 pooled features at 224 px (Woodland et al. 2023)",
        version="1",
        factory=f"{_TIMM}:SwavResNet50",
        weights=SWAV_RESNET50,
    ),
)


def builtin_encoder(name: str) -> EncoderSpec | None:
    """The built-in encoder called ``name`` (for metrics built outside a run)."""
    return next((e for e in ENCODERS if e.name == name), None)


@hookimpl
def medganbench_encoders() -> list[EncoderSpec]:
    """Register the built-in encoders."""
    return list(ENCODERS)


@hookimpl
def medganbench_weights() -> list[WeightsSpec]:
    """Register the encoders' weights (``fid-inception`` is registered by the FID plugin)."""
    return [DINOV2_VITS14, DINOV2_VITB14, RADDINO, SWAV_RESNET50]
