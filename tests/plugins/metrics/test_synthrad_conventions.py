"""The SynthRAD conventions against the values the challenges' own evaluation code printed.

Golden values were produced outside this repository, on the arrays :func:`case` builds from the
recorded seeds (numpy 2.4.6, scipy 1.17.1, scikit-image 0.26.0, float64 arrays), by

* SynthRAD 2023: ``functions/image_metrics.py`` of github.com/SynthRAD2023/metrics at commit
  3200007e7029282416445719f7aae27e3a87308d, calling ``ImageMetrics().mae(gt, pred, mask)``,
  ``.psnr(gt, pred, mask, use_population_range=True)``, ``.ssim(gt, pred, mask)`` and
  ``.ssim(gt, pred, None)`` (its module-level ``evalutils`` import, used only for file loading,
  was satisfied by an empty stub);
* SynthRAD 2025: ``image_metrics.py`` of github.com/SynthRAD2025/evaluation at commit
  17cac47b6288fcb66c5818c9d50eb9534d613fa2 ("Change range of clipping": HU range
  [-1024, 3071]), calling ``ImageMetrics().score_patient(gt, pred, mask)``.

``gt`` is ``target``, ``pred`` is ``pred`` and ``mask`` the float 0/1 mask. Only the printed
numbers are carried over; none of that code is in this repository.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medganbench.core.dataset import DomainInfo
from medganbench.core.manager import Registries
from medganbench.core.metric import EvalBatch
from medganbench.errors import DataError
from medganbench.run.spec import RunSpec, resolve_run
from medganbench_plugins.metrics.synthrad import (
    HU_RANGES,
    challenge_mae,
    challenge_ms_ssim,
    challenge_psnr,
    challenge_ssim,
)

TOL = 1e-9  # relative: both sides are float64; only summation order differs


def case(
    seed: int, shape: tuple[int, ...], noise: float = 120.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CT-like target (with values below and above both HU ranges), a noisy prediction, a mask.

    Returns ``(pred, target, mask)`` as (1, 1, *shape) tensors, float64 and bool.
    """
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    r2 = sum(g**2 for g in grids)
    body = 40 + 900 * np.cos(3 * grids[-1]) * np.sin(2 * grids[-2])
    target = np.where(r2 < 0.8, body, -1000.0) + rng.normal(0, 60, shape)
    target[r2 < 0.05] = 3300.0
    target[0, 0] = -1500.0
    pred = target + rng.normal(0, noise, shape) + 30.0
    mask = r2 < 0.7

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x))[None, None]

    return tensor(pred), tensor(target), tensor(mask)


# seed, shape -> (mae, psnr, ssim with mask, ssim without mask), as SynthRAD2023/metrics printed.
GOLDEN_2023 = {
    (2023, (12, 20, 24)): (96.45327174792568, 30.46815284272042, 0.986523080789361, 0.9756088039868942),
    (7, (9, 16, 16)): (100.70167770949861, 30.443693163427863, 0.9918010886207921, 0.9846015381408509),
    (11, (24, 28)): (96.44068836811485, 30.721195032047728, 0.9711466397399252, 0.9598182201319111),
}  # fmt: skip
# seed, shape, noise -> (mae, psnr, ms_ssim), as SynthRAD2025/evaluation score_patient printed.
GOLDEN_2025 = {
    (2025, (10, 40, 44), 120.0): (99.37105725566688, 30.468302239577845, 0.9981427908029593),
    (5, (8, 30, 101), 120.0): (99.96370484935647, 30.357759246989794, 0.998235901725541),
    (99, (12, 100, 98), 900.0): (718.3051978353554, 14.127199123930044, 0.925232798299031),
    (3, (9, 33, 41), 700.0): (554.6438563285618, 16.035670282316033, 0.972075250447562),
}  # fmt: skip
# The 2023 SSIM of the two noisy cases above (same code, with mask).
GOLDEN_2023_NOISY_SSIM = {99: 0.48600923073333063, 3: 0.7022559179891472}


@pytest.mark.parametrize(("seed", "shape"), list(GOLDEN_2023), ids=str)
def test_synthrad2023_matches_the_challenge_code(seed: int, shape: tuple[int, ...]) -> None:
    pred, target, mask = case(seed, shape)
    mae, psnr, ssim, ssim_unmasked = GOLDEN_2023[(seed, shape)]
    assert float(challenge_mae(pred, target, mask)) == pytest.approx(mae, rel=TOL)
    got_psnr = challenge_psnr(pred, target, mask, hu_range=HU_RANGES["synthrad2023"])
    assert float(got_psnr) == pytest.approx(psnr, rel=TOL)
    assert float(challenge_ssim(pred, target, mask)) == pytest.approx(ssim, rel=TOL)
    assert float(challenge_ssim(pred, target, None)) == pytest.approx(ssim_unmasked, rel=TOL)


@pytest.mark.parametrize(("seed", "shape", "noise"), list(GOLDEN_2025), ids=str)
def test_synthrad2025_matches_the_challenge_code(
    seed: int, shape: tuple[int, ...], noise: float
) -> None:
    pred, target, mask = case(seed, shape, noise)
    mae, psnr, ms_ssim = GOLDEN_2025[(seed, shape, noise)]
    assert float(challenge_mae(pred, target, mask)) == pytest.approx(mae, rel=TOL)
    got_psnr = challenge_psnr(pred, target, mask, hu_range=HU_RANGES["synthrad2025"])
    assert float(got_psnr) == pytest.approx(psnr, rel=TOL)
    assert float(challenge_ms_ssim(pred, target, mask)) == pytest.approx(ms_ssim, rel=TOL)


@pytest.mark.parametrize("seed", sorted(GOLDEN_2023_NOISY_SSIM))
def test_synthrad2023_ssim_of_a_poor_prediction(seed: int) -> None:
    shape, noise = next((s, n) for (sd, s, n) in GOLDEN_2025 if sd == seed)
    pred, target, mask = case(seed, shape, noise)
    want = GOLDEN_2023_NOISY_SSIM[seed]
    assert float(challenge_ssim(pred, target, mask)) == pytest.approx(want, rel=TOL)


def test_volume_thinner_than_the_ssim_window_is_a_data_error() -> None:
    pred, target, mask = case(1, (5, 16, 16))
    with pytest.raises(DataError, match="7-wide window"):
        challenge_ssim(pred, target, mask)


def test_batch_scores_each_item_alone() -> None:
    items = [case(seed, (8, 12, 12)) for seed in (1, 2)]
    pred, target, mask = (torch.cat(parts) for parts in zip(*items, strict=True))
    together = challenge_ssim(pred, target, mask)
    alone = torch.cat([challenge_ssim(*item) for item in items])
    torch.testing.assert_close(together, alone, rtol=1e-12, atol=0)


# ---- the metric argument --------------------------------------------------------------------

CT = DomainInfo("CT", "CT", "HU", (-1024.0, 3000.0))
MR = DomainInfo("T1 MR", "MR", "a.u.", (0.0, 1.0))


@pytest.mark.parametrize("name", ["psnr", "ssim", "mae"])
def test_default_convention_leaves_the_run_id_unchanged(registries: Registries, name: str) -> None:
    plain = resolve_run(RunSpec(model="identity", metrics=(name,)), registries)
    spelled = resolve_run(
        RunSpec(
            model="identity", metrics=(name,), metric_args={name: {"convention": "medganbench"}}
        ),
        registries,
    )
    assert spelled.run_id == plain.run_id
    assert spelled.metric_args[name] == {}


def test_challenge_convention_enters_the_run_id_and_row_args(registries: Registries) -> None:
    spec = RunSpec(model="identity", metrics=("psnr",))
    plain = resolve_run(spec, registries)
    named = resolve_run(
        RunSpec(
            model="identity",
            metrics=("psnr",),
            metric_args={"psnr": {"convention": "synthrad2023"}},
        ),
        registries,
    )
    assert named.run_id != plain.run_id
    assert named.metric_args["psnr"] == {"convention": "synthrad2023"}


def test_convention_metric_computes_the_challenge_number(registries: Registries) -> None:
    pred, target, mask = case(11, (24, 28))
    metric = registries.metrics.get("psnr").build({"convention": "synthrad2023"})
    # A dataset window other than the challenge's range must not matter.
    metric.update(EvalBatch(pred, target, mask, (-1000.0, 2000.0), paired=True))
    assert metric.compute() == pytest.approx(GOLDEN_2023[(11, (24, 28))][1], rel=TOL)
    assert "SynthRAD 2023" in metric.convention


def test_challenge_convention_applies_to_hu_targets_only(registries: Registries) -> None:
    named = registries.metrics.get("mae").build({"convention": "synthrad2025"})
    plain = registries.metrics.get("mae").build({})
    assert named.applies_to(CT) and not named.applies_to(MR)
    assert plain.applies_to(MR)


def test_ms_ssim_has_no_synthrad2023_convention(registries: Registries) -> None:
    from medganbench.errors import UsageError

    with pytest.raises(UsageError, match="convention"):
        registries.metrics.get("ms-ssim").resolve({"convention": "synthrad2023"})
