"""Without --metrics, the metrics follow the model and the data (issue 15)."""

from __future__ import annotations

import pytest

from medganbench import defaults
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.core.model import Task
from medganbench.run.spec import default_metrics

_COLLECTED = build_registries(make_plugin_manager(autoload=False))
DATASETS = _COLLECTED.datasets.names()


def _expected(registries: Registries, model: str, paired: bool) -> tuple[str, ...]:
    cls = registries.models.get(model).load()
    if cls.task is Task.SAMPLE:
        return defaults.SAMPLING_METRICS
    if paired:
        return defaults.PAIRED_METRICS
    if getattr(cls, "cycle_consistent", False):
        return ("fid", "kid", "psnr", "ssim", "mae")
    return ("fid", "kid")


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", ["identity", "hlsnc", "dcgan"])
def test_defaults_follow_each_datasets_declared_pairing(
    registries: Registries, dataset: str, model: str
) -> None:
    paired = registries.datasets.get(dataset).is_paired({})
    assert default_metrics(registries, model, dataset) == _expected(registries, model, paired)


def test_phantom_pairing_follows_its_arguments(registries: Registries) -> None:
    assert default_metrics(registries, "hlsnc") == ("psnr", "ssim", "mae")
    assert default_metrics(registries, "hlsnc", "phantom-brain", {"paired": "false"}) == (
        "fid", "kid", "psnr", "ssim", "mae",
    )  # fmt: skip
    assert default_metrics(registries, "pix2pix", "phantom-brain", {"domain": "b"}) == (
        "fid",
        "kid",
    )


def test_samplers_get_the_distribution_coverage_and_memorisation_metrics(
    registries: Registries,
) -> None:
    assert default_metrics(registries, "hagan", "phantom-brain", {"domain": "b"}) == (
        "fid", "kid", "precision", "recall", "density", "coverage", "memorisation",
    )  # fmt: skip
