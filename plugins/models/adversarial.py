"""The base of the built-in GANs: networks, a generator and a discriminator optimiser, and the
state that makes a checkpoint resume exactly.

Subclasses create :attr:`opt_g` and :attr:`opt_d`, list their networks in :attr:`nets`, and
name any further state (RNGs, history pools, schedule position) in :meth:`extra_state` /
:meth:`load_extra_state`. Not a plugin module: it registers nothing.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from medganbench.core.model import Model
from medganbench_plugins.nn.training import count_parameters, linear_decay, set_lr


class AdversarialModel(Model):
    """A model made of networks trained by two optimisers (generator side and discriminator side)."""

    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    #: Learning rate the ``linear-decay`` schedule scales (models with an ``lr_schedule`` argument).
    base_lr: float

    @property
    @abstractmethod
    def nets(self) -> tuple[nn.Module, ...]:
        """Every trained network, in a fixed order (the order of the checkpoint's ``nets``)."""

    def trained_modules(self) -> dict[str, nn.Module]:
        """Every network of :attr:`nets`, named by its position there."""
        return {f"net{index}": net for index, net in enumerate(self.nets)}

    def set_progress(self, fraction: float) -> None:
        # Models declaring lr_schedule=linear-decay keep the rate for the first half of the
        # budget and decay it to zero over the second (CycleGAN, pix2pix); others ignore this.
        if self.args.get("lr_schedule") == "linear-decay":
            lr = self.base_lr * linear_decay(fraction)
            set_lr(self.opt_g, lr)
            set_lr(self.opt_d, lr)

    def eval_mode(self) -> None:
        for net in self.nets:
            net.eval()

    def train_mode(self) -> None:
        for net in self.nets:
            net.train()

    def extra_state(self) -> dict[str, Any]:
        """State beyond weights and optimisers needed to resume exactly; default none."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned (``state`` is the whole checkpoint dict)."""

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": [net.state_dict() for net in self.nets],
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            **self.extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for net, weights in zip(self.nets, state["nets"], strict=True):
            net.load_state_dict(weights)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.load_extra_state(state)

    def parameter_count(self) -> int:
        """Learned parameters of every network in :attr:`nets`."""
        return count_parameters(self.nets)
