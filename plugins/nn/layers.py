"""Convolution classes by spatial dimension, so one builder serves images and volumes.

The U-Net generator and the PatchGAN discriminator are written once and take ``dims``: 2 for
(N, C, H, W) images (:class:`torch.nn.Conv2d`, :class:`torch.nn.ConvTranspose2d`), 3 for
(N, C, D, H, W) volumes (:class:`torch.nn.Conv3d`, :class:`torch.nn.ConvTranspose3d`). The norm
layers follow the same argument (:func:`~medganbench_plugins.nn.norms.make_norm`).
"""

from __future__ import annotations

from torch import nn

#: The spatial dimensions the shared builders take.
SPATIAL_DIMS: tuple[int, ...] = (2, 3)


def check_dims(dims: int) -> int:
    """Return ``dims`` if the builders support it.

    Raises:
        ValueError: ``dims`` is not one of :data:`SPATIAL_DIMS`.
    """
    if dims not in SPATIAL_DIMS:
        raise ValueError(f"dims must be one of {SPATIAL_DIMS}, got {dims!r}")
    return dims


def conv_class(dims: int) -> type[nn.Conv2d] | type[nn.Conv3d]:
    """:class:`torch.nn.Conv2d` for ``dims`` 2, :class:`torch.nn.Conv3d` for 3."""
    return nn.Conv2d if check_dims(dims) == 2 else nn.Conv3d


def conv_transpose_class(dims: int) -> type[nn.ConvTranspose2d] | type[nn.ConvTranspose3d]:
    """:class:`torch.nn.ConvTranspose2d` for ``dims`` 2, :class:`torch.nn.ConvTranspose3d` for 3."""
    return nn.ConvTranspose2d if check_dims(dims) == 2 else nn.ConvTranspose3d
