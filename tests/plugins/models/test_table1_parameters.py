"""Parameter counts of paper 002's baselines at 64 px against HAGAN's Table I.

Every count is pinned exactly (one channel, 64 px, the plugins' defaults unless named), and
compared with the paper's: within ``TOLERANCE`` where the architecture is the paper's, or
listed in docs/models.md ("Table I") where the paper's count cannot be met by the networks it
describes. ``pytest -s`` prints the comparison.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from medganbench.core.model import ModelContext
from medganbench.core.params import resolve_args
from medganbench.run.flops import PROBE_DATASET
from medganbench_plugins.nn.training import count_parameters

#: The paper prints counts to 0.1 M; 2 % covers that rounding at the sizes compared here.
TOLERANCE = 0.02
DOCS = Path(__file__).resolve().parents[3] / "docs" / "models.md"

# (model, arguments, network, ours exactly, paper's Table I count, within tolerance?)
TABLE1 = [
    ("unetgan", {}, "G", 3_579_858, 3.6e6, True),
    ("unetgan", {}, "D", 6_173_058, 6.2e6, True),
    ("ddpm", {}, "denoiser", 35_741_697, 35.7e6, True),
    ("wgan", {"arch": "mlp", "mlp_width": "1024"}, "D", 6_295_553, 6.4e6, True),
    ("wgan", {"arch": "mlp", "mlp_width": "1024"}, "G", 6_401_024, 13.3e6, False),
    ("wgan", {}, "G", 3_574_657, 13.3e6, False),
    ("wgan", {}, "D", 2_763_585, 6.4e6, False),
    ("infogan", {}, "G", 3_672_961, 10.1e6, False),
    ("infogan", {}, "D", 2_763_585 + 1_050_508, 0.1e6, False),
]


def _count(registries, name: str, args: dict[str, str], net: str) -> int:
    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=64)
    model = spec.build(
        resolve_args(spec.params, args, name), ModelContext(64, info, torch.device("cpu"), 0)
    )
    if net == "denoiser":
        return model.parameter_count()
    if net == "G":
        return count_parameters((model.generator,))
    # D with everything on the discriminator's side (InfoGAN's Q-head shares its body).
    return model.parameter_count() - count_parameters((model.generator,))


@pytest.mark.parametrize(("name", "args", "net", "ours", "paper", "close"), TABLE1)
def test_parameter_count_against_table_1(
    registries, name: str, args: dict[str, str], net: str, ours: int, paper: float, close: bool
) -> None:
    count = _count(registries, name, args, net)
    ratio = count / paper
    print(f"{name} {args} {net}: {count:,} (paper {paper / 1e6:.1f} M, ratio {ratio:.3f})")
    assert count == ours
    if close:
        assert abs(ratio - 1.0) <= TOLERANCE
    else:
        # Outside the tolerance: docs/models.md must explain it, naming our exact count.
        assert f"{ours:,}" in DOCS.read_text(encoding="utf-8"), f"{name} {net} undocumented"
