"""The fully connected generator and critic of the WGAN paper (Arjovsky, Chintala & Bottou 2017).

Sec. 4.3 of the paper trains WGANs whose generator (and, in one experiment, critic) is a ReLU MLP
of 512 units per layer, to show that the Wasserstein loss trains what a standard GAN cannot.
As in the authors' code, both are four linear layers with ReLU between them (three hidden
layers of ``width`` units); the generator ends in a linear layer of C·S·S outputs (no tanh: samples are
clamped to [-1, 1] at evaluation), the critic in one unbounded score. Linear layers keep
PyTorch's default initialisation, as the reference code does (its DCGAN initialisation touches
only convolutions and batch norms).
"""

from __future__ import annotations

from torch import Tensor, nn

HIDDEN_LAYERS = 3


def _stack(n_in: int, width: int, n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(HIDDEN_LAYERS):
        layers += [nn.Linear(n_in if i == 0 else width, width), nn.ReLU(True)]
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (N, z_dim) → images (N, C, S, S), unbounded."""

    def __init__(self, image_size: int, z_dim: int, out_channels: int, width: int) -> None:
        super().__init__()
        self.shape = (out_channels, image_size, image_size)
        self.net = _stack(z_dim, width, out_channels * image_size * image_size)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.flatten(1)).view(z.shape[0], *self.shape)


class MLPCritic(nn.Module):
    """Images (N, C, S, S) → scores (N,)."""

    def __init__(self, image_size: int, in_channels: int, width: int) -> None:
        super().__init__()
        self.net = _stack(in_channels * image_size * image_size, width, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).flatten()
