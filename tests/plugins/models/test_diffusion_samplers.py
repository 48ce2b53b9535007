"""The diffusion samplers against diffusers: timesteps, DPM-Solver++(2M), DDIM and the ancestral one.

Golden values come from diffusers 0.42.1 (torch 2.14.1, CPU), run outside the repository on
the same toy denoiser and the same x_T: its ``DDIMScheduler`` and
``DPMSolverMultistepScheduler`` ``set_timesteps`` lists, and the samples its ``step`` loops
produce (result clipped to [-1, 1], as our samplers return it): the sum, the sum of squares and
four entries, to 8 significant digits. diffusers keeps ᾱ in float32 and we keep it in float64,
which moves the samples by about 1e-6, hence the tolerances. A live cross-check against an
installed diffusers runs when it is importable (it is not a dependency; CI relies on the goldens).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from medganbench_plugins.nn.diffusion import (
    LinearSchedule,
    ancestral_sample,
    ddim_sample,
    sample_timesteps,
)
from medganbench_plugins.nn.dpm_solver import dpm_solver_2m_sample, dpm_solver_timesteps

T = 1000
SHAPE = (2, 1, 4, 4)
SEED = 1234
ENTRIES = ((0, 0, 0, 0), (0, 0, 1, 2), (1, 0, 2, 3), (1, 0, 3, 1))
CPU = torch.device("cpu")
SCHEDULE = LinearSchedule()
ABAR = SCHEDULE.alphas_cumprod

#: (sum, sum of squares, the four ENTRIES) of each golden sample.
Golden = tuple[float, float, tuple[float, float, float, float]]

#: DDIMScheduler.set_timesteps(steps) with steps_offset=0 (sample_timesteps' contract).
DDIM_TIMESTEPS: dict[tuple[str, int], list[int]] = {
    ("leading", 5): [800, 600, 400, 200, 0],
    ("leading", 7): [852, 710, 568, 426, 284, 142, 0],
    ("leading", 20): list(range(950, -1, -50)),
    ("trailing", 5): [999, 799, 599, 399, 199],
    ("trailing", 7): [999, 856, 713, 570, 428, 285, 142],
    ("trailing", 20): list(range(999, 0, -50)),
    ("linspace", 5): [999, 749, 500, 250, 0],
    ("linspace", 7): [999, 832, 666, 500, 333, 166, 0],
    ("linspace", 20): [999, 946, 894, 841, 789, 736, 684, 631, 578, 526, 473, 421, 368, 315, 263,
                       210, 158, 105, 53, 0],
}  # fmt: skip

#: DPMSolverMultistepScheduler.set_timesteps(steps) with steps_offset=0.
DPM_TIMESTEPS: dict[tuple[str, int], list[int]] = {
    ("leading", 5): [830, 664, 498, 332, 166],
    ("leading", 20): list(range(940, 0, -47)),
    ("trailing", 5): [999, 799, 599, 399, 199],
    ("trailing", 20): list(range(999, 0, -50)),
    ("linspace", 5): [999, 799, 599, 400, 200],
    ("linspace", 20): [999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300,
                       250, 200, 150, 100, 50],
}  # fmt: skip

#: DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2,
#: solver_type="midpoint", lower_order_final=True, final_sigmas_type="zero", thresholding=False,
#: use_karras_sigmas=False, steps_offset=0, timestep_spacing=spacing).
DPM_GOLDEN: dict[tuple[str, int], Golden] = {
    ("leading", 5): (-2.11485544, 1.51284005,
                     (-3.16695273e-02, -1.69040430e-02, 6.99668825e-02, 2.01133788e-01)),
    ("leading", 20): (-3.44720576, 4.05263553,
                      (-5.39589599e-02, -2.88166236e-02, 1.18881218e-01, 3.35354090e-01)),
    ("trailing", 5): (-2.20698103, 1.66551379,
                      (-3.36477309e-02, -1.79519113e-02, 7.44904056e-02, 2.14853391e-01)),
    ("trailing", 20): (-3.38071594, 3.89218227,
                       (-5.25741652e-02, -2.80752294e-02, 1.15870133e-01, 3.27683747e-01)),
    ("linspace", 5): (-2.20531292, 1.66321215,
                      (-3.36326435e-02, -1.79438610e-02, 7.44569376e-02, 2.14748561e-01)),
    ("linspace", 20): (-3.37043093, 3.86840249,
                       (-5.24062663e-02, -2.79855356e-02, 1.15500994e-01, 3.26658070e-01)),
}  # fmt: skip

#: DDIMScheduler(clip_sample=False, set_alpha_to_one=True, steps_offset=0), η = 0, 20 steps.
#: Only spacings whose step T // steps is the gap between listed timesteps: diffusers' DDIM
#: steps from t to t − T // steps, not to the next listed timestep, so "linspace" (and
#: "trailing" at 7 steps) would visit other timesteps than ddim_sample.
DDIM_GOLDEN: dict[str, Golden] = {
    "leading": (-3.17333967, 3.43784856,
                (-4.97886948e-02, -2.65892614e-02, 1.09697402e-01, 3.09382945e-01)),
    "trailing": (-3.03120573, 3.12394665,
                 (-4.66735065e-02, -2.49209572e-02, 1.02935836e-01, 2.92437017e-01)),
}  # fmt: skip

#: The same DDIM with diffusers' default clip_sample=True (x̂_0 clipped at every step), leading.
DDIM_CLIPPED_GOLDEN: Golden = (
    -2.82191997,
    2.70713951,
    (-4.97886948e-02, -2.65892614e-02, 1.08656086e-01, 2.70603448e-01),
)

#: DDPMScheduler(variance_type="fixed_large", clip_sample=True), all 1000 steps, noise drawn from
#: the generator that drew x_T (one draw per step t ≥ 1, as ancestral_sample draws them). Over
#: 1000 steps diffusers' float32 ᾱ moves the sample by about 2e-5 (with our float64 ᾱ put into
#: the scheduler, the two agree to 3e-7), hence the looser tolerance below.
ANCESTRAL_GOLDEN: Golden = (
    0.791900315,
    8.45562244,
    (-1.82787608e-02, 5.22520170e-02, -1.53163671e-01, -1.0),
)


def toy_denoiser(x: Tensor, t: Tensor) -> Tensor:
    """ε of data ~ N(0, 0.5² I) plus a t-dependent tanh(x) term: deterministic, nonlinear.

    Its x̂_0 leaves [-1, 1] at the first steps (|x̂_0| up to 13 from x_T), so a sampler that
    clipped x̂_0 between steps would miss the unclipped goldens; the samples stay inside.
    """
    abar = ABAR[t.cpu()].view(-1, 1, 1, 1)
    gain: Tensor = ((1.0 - abar).sqrt() / (0.25 * abar + 1.0 - abar)).to(x.dtype)
    wobble = (0.1 * torch.sin(t.to(torch.float64) / 50.0)).view(-1, 1, 1, 1).to(x.dtype)
    return gain * x + wobble * torch.tanh(x)


def generator() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


def assert_matches(sample: Tensor, golden: Golden, tol: float = 1e-5) -> None:
    total, squares, entries = golden
    x = sample.double()
    assert float(x.sum()) == pytest.approx(total, rel=tol, abs=tol)
    assert float(x.square().sum()) == pytest.approx(squares, rel=tol)
    assert [float(x[i]) for i in ENTRIES] == pytest.approx(list(entries), abs=tol)


@pytest.mark.parametrize(("spacing", "steps"), sorted(DDIM_TIMESTEPS))
def test_sample_timesteps_equal_diffusers_ddim_timesteps(spacing: str, steps: int) -> None:
    assert sample_timesteps(T, steps, spacing) == DDIM_TIMESTEPS[spacing, steps]


@pytest.mark.parametrize(("spacing", "steps"), sorted(DPM_TIMESTEPS))
def test_dpm_solver_timesteps_equal_diffusers_dpm_timesteps(spacing: str, steps: int) -> None:
    assert dpm_solver_timesteps(T, steps, spacing) == DPM_TIMESTEPS[spacing, steps]


@pytest.mark.parametrize("steps", [0, T])
def test_dpm_solver_timesteps_reject_steps_outside_one_to_t_minus_one(steps: int) -> None:
    # "leading" with T steps would need T + 1 points on T timesteps (diffusers lists t = 0 twice).
    with pytest.raises(ValueError, match="sampling steps"):
        dpm_solver_timesteps(T, steps, "leading")


@pytest.mark.parametrize(("spacing", "steps"), sorted(DPM_GOLDEN))
def test_dpm_solver_2m_equals_diffusers(spacing: str, steps: int) -> None:
    sample = dpm_solver_2m_sample(toy_denoiser, SHAPE, SCHEDULE, steps, generator(), CPU, spacing)
    assert_matches(sample, DPM_GOLDEN[spacing, steps])


@pytest.mark.parametrize("spacing", sorted(DDIM_GOLDEN))
def test_ddim_equals_diffusers_ddim_without_clip_sample(spacing: str) -> None:
    sample = ddim_sample(toy_denoiser, SHAPE, SCHEDULE, 20, generator(), CPU, spacing=spacing)
    assert_matches(sample, DDIM_GOLDEN[spacing])


def test_ddim_does_not_clip_x0_like_diffusers_default() -> None:
    # DDIM does not clip x̂_0, as in Song et al.'s code; diffusers clips it by default.
    sample = ddim_sample(toy_denoiser, SHAPE, SCHEDULE, 20, generator(), CPU, spacing="leading")
    entries = torch.tensor([float(sample[i]) for i in ENTRIES])
    assert (entries - torch.tensor(DDIM_CLIPPED_GOLDEN[2])).abs().max() > 1e-2
    assert abs(float(sample.double().sum()) - DDIM_CLIPPED_GOLDEN[0]) > 0.1


def test_ddim_with_clip_x0_equals_diffusers_default_clip_sample() -> None:
    # ``ddim_clip=true`` reproduces diffusers' default: x̂_0 clipped, the predicted ε kept.
    sample = ddim_sample(
        toy_denoiser, SHAPE, SCHEDULE, 20, generator(), CPU, spacing="leading", clip_x0=True
    )
    assert_matches(sample, DDIM_CLIPPED_GOLDEN)


def test_ddim_with_eta_one_draws_fresh_noise_at_each_step() -> None:
    # η = 1: σ_t is the DDPM posterior's, so the same x_T gives another sample than η = 0.
    deterministic = ddim_sample(toy_denoiser, SHAPE, SCHEDULE, 20, generator(), CPU)
    stochastic = ddim_sample(toy_denoiser, SHAPE, SCHEDULE, 20, generator(), CPU, eta=1.0)
    again = ddim_sample(toy_denoiser, SHAPE, SCHEDULE, 20, generator(), CPU, eta=1.0)
    assert torch.equal(stochastic, again) and not torch.allclose(stochastic, deterministic)


def test_ancestral_sample_equals_diffusers_ddpm_with_clip_sample() -> None:
    sample = ancestral_sample(toy_denoiser, SHAPE, SCHEDULE, generator(), CPU)
    assert_matches(sample, ANCESTRAL_GOLDEN, tol=1e-4)


def test_ancestral_sample_clips_x0_before_the_posterior_step() -> None:
    # Two timesteps: at t = 1 the denoiser's x̂_0 is about 3.9 x_T (far outside [-1, 1]); at t = 0
    # it predicts ε = 0, so the sample is clip(x_1 / √ᾱ_0) and shows which x̂_0 the first step used.
    schedule = LinearSchedule(timesteps=2)
    b0: float = schedule.beta_start
    b1: float = schedule.beta_end
    abar0, abar1 = 1.0 - b0, (1.0 - b0) * (1.0 - b1)

    def denoiser(x: Tensor, t: Tensor) -> Tensor:
        return -20.0 * x * (t == 1).view(-1, 1, 1, 1).to(x.dtype)

    sample = ancestral_sample(denoiser, SHAPE, schedule, generator(), CPU)
    draws = generator()
    x2 = torch.randn(SHAPE, generator=draws)
    z = torch.randn(SHAPE, generator=draws)
    x0_hat = (x2 + 20.0 * math.sqrt(1.0 - abar1) * x2) / math.sqrt(abar1)

    def posterior_step(x0: Tensor) -> Tensor:
        # Ho et al. eq. 7: μ̃(x_t, x_0), plus √β_1 z ("fixed large" σ_1² = β_1).
        mean = (math.sqrt(abar0) * b1 * x0 + math.sqrt(1.0 - b1) * (1.0 - abar0) * x2) / (1 - abar1)
        return (mean + math.sqrt(b1) * z) / math.sqrt(abar0)

    clipped = posterior_step(x0_hat.clamp(-1.0, 1.0)).clamp(-1.0, 1.0)
    unclipped = posterior_step(x0_hat).clamp(-1.0, 1.0)
    torch.testing.assert_close(sample, clipped.float(), atol=1e-6, rtol=0)
    assert (clipped - unclipped).abs().max() > 0.1


def test_dpm_solver_2m_and_ddim_equal_installed_diffusers() -> None:
    diffusers = pytest.importorskip("diffusers")
    common = {"num_train_timesteps": T, "beta_start": 1e-4, "beta_end": 0.02, "steps_offset": 0}

    def run(scheduler: object, steps: int) -> Tensor:
        scheduler.set_timesteps(steps)  # type: ignore[attr-defined]
        x = torch.randn(SHAPE, generator=generator())
        for t in scheduler.timesteps:  # type: ignore[attr-defined]
            eps = toy_denoiser(x, torch.full((SHAPE[0],), int(t), dtype=torch.long))
            x = scheduler.step(eps, int(t), x).prev_sample  # type: ignore[attr-defined]
        result: Tensor = x.clamp(-1.0, 1.0)
        return result

    for spacing in ("leading", "trailing", "linspace"):
        dpm = diffusers.DPMSolverMultistepScheduler(
            **common,
            algorithm_type="dpmsolver++",
            solver_order=2,
            solver_type="midpoint",
            lower_order_final=True,
            final_sigmas_type="zero",
            thresholding=False,
            use_karras_sigmas=False,
            timestep_spacing=spacing,
        )
        ours = dpm_solver_2m_sample(toy_denoiser, SHAPE, SCHEDULE, 8, generator(), CPU, spacing)
        torch.testing.assert_close(ours, run(dpm, 8), atol=1e-5, rtol=0)
    ddim = diffusers.DDIMScheduler(
        **common, clip_sample=False, set_alpha_to_one=True, timestep_spacing="trailing"
    )
    ours = ddim_sample(toy_denoiser, SHAPE, SCHEDULE, 10, generator(), CPU, spacing="trailing")
    torch.testing.assert_close(ours, run(ddim, 10), atol=1e-5, rtol=0)
