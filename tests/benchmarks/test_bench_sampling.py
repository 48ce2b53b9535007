"""Benchmarks of what one translated image costs at evaluation, 64 px, CPU: a GAN's generator
pass against diffusion samplers (the cost the rows' ``eval_seconds_per_image`` measure).

Each case translates one 64 px image with the model's default networks (weights as built: the
cost of a sampler does not depend on what the weights learned) and checks the output's shape
and range, so a fast but broken translation fails.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from medganbench.core.model import ModelContext
from medganbench.core.params import resolve_args
from medganbench.run.flops import PROBE_DATASET

SIZE = 64
ROUNDS = 3

#: (label, model, arguments): one GAN pass, SynDiff's 4-step chain, cond-ddpm's samplers.
CASES = [
    ("pix2pix", "pix2pix", {"test_mode": "eval"}),
    ("syndiff (4 steps)", "syndiff", {}),
    ("cond-ddpm ddim 20", "cond-ddpm", {"sample_steps": "20"}),
    ("cond-ddpm dpm-solver++ 20", "cond-ddpm", {"sample_steps": "20", "sampler": "dpm-solver++"}),
]


@pytest.mark.parametrize(("label", "name", "args"), CASES, ids=[c[0] for c in CASES])
def test_bench_translate_one_image_64px(
    benchmark: BenchmarkFixture, registries, label: str, name: str, args: dict[str, str]
) -> None:
    # The suite's check (one call, nothing measured) runs at the tests' 32 px, with 2 steps.
    size = 32 if benchmark.disabled else SIZE
    if benchmark.disabled and "sample_steps" in args:
        args = {**args, "sample_steps": "2"}
    spec = registries.models.get(name)
    info = dataclasses.replace(PROBE_DATASET, image_size=size)
    torch.manual_seed(0)
    model = spec.build(
        resolve_args(spec.params, args, name), ModelContext(size, info, torch.device("cpu"), 0)
    )
    model.eval_mode()
    source = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    benchmark.group = f"translate-one-image-{SIZE}px-cpu"
    benchmark.extra_info["sampling_steps"] = model.sampling_steps

    def translate() -> torch.Tensor:
        with torch.no_grad():
            return model.translate(source)

    out = benchmark.pedantic(translate, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert out.shape == source.shape and -1.0 <= float(out.min()) <= float(out.max()) <= 1.0
