"""The translation models start from the reference's initialisation rule.

The rule (junyanz/pytorch-CycleGAN-and-pix2pix ``init_weights``, init_type ``normal``, gain
0.02): convolution and linear weights ~ N(0, 0.02) with zero biases; BatchNorm2d scales
~ N(1, 0.02) with zero shifts; other norms keep weight 1 and bias 0. The test checks the
statistics of every built network against the rule, layer by layer and pooled.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from medganbench.core.model import ModelContext
from medganbench.run.flops import PROBE_DATASET
from medganbench_plugins.nn.init import INIT_GAIN, WEIGHT_LAYERS
from medganbench_plugins.nn.norms import SwitchableNorm2d

SIZE = 32
ARGS = {"ngf": "16", "ndf": "16"}


def _nets(registries, name: str) -> tuple[nn.Module, ...]:
    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=SIZE)
    torch.manual_seed(0)
    model = spec.build(ARGS, ModelContext(SIZE, info, torch.device("cpu"), 0))
    return tuple(model.nets)


def _check_normal(values: torch.Tensor, mean: float, what: str) -> None:
    """Sample mean and std of ``values`` agree with N(mean, INIT_GAIN) within 5 standard errors."""
    n = values.numel()
    se_mean = INIT_GAIN / math.sqrt(n)
    se_std = INIT_GAIN / math.sqrt(2 * n)
    assert abs(values.mean().item() - mean) < 5 * se_mean, what
    assert abs(values.std().item() - INIT_GAIN) < 5 * se_std, what


@pytest.mark.parametrize("name", ["cyclegan", "hlsnc", "pix2pix"])
def test_translation_networks_follow_the_reference_init_rule(registries, name: str) -> None:
    weights, scales, norms_seen = [], [], set()
    for net in _nets(registries, name):
        for module in net.modules():
            if isinstance(module, WEIGHT_LAYERS):
                w = module.weight.detach().flatten()
                weights.append(w)
                if w.numel() >= 2000:  # a layer left at torch's default would fail here
                    _check_normal(w, 0.0, f"{name}: {module}")
                if module.bias is not None:
                    assert torch.count_nonzero(module.bias) == 0, f"{name}: bias of {module}"
            elif isinstance(module, nn.BatchNorm2d):
                scales.append(module.weight.detach())
                assert torch.count_nonzero(module.bias) == 0
                norms_seen.add("batch")
            elif isinstance(module, SwitchableNorm2d):
                assert torch.equal(module.weight, torch.ones_like(module.weight))
                assert torch.count_nonzero(module.bias) == 0
                norms_seen.add("switchable")
    _check_normal(torch.cat(weights), 0.0, f"{name}: all weights")
    if scales:
        _check_normal(torch.cat(scales), 1.0, f"{name}: batch-norm scales")
    # The defaults exercise each norm branch of the rule: batch (pix2pix), switchable (hlsnc).
    expected = {"pix2pix": {"batch"}, "hlsnc": {"switchable"}, "cyclegan": set()}[name]
    assert norms_seen == expected
