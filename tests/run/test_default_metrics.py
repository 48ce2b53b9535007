"""Without --metrics, the metrics follow the model and the data (issue 15)."""

from __future__ import annotations

import pytest

from medganbench import defaults
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.core.model import Task
from medganbench.run.spec import default_metrics

_COLLECTED = build_registries(make_plugin_manager(autoload=False))
DATASETS = _COLLECTED.datasets.names()


def _expected(registries: Registries, model: str, paired: bool, dims: int) -> tuple[str, ...]:
    cls = registries.models.get(model).load()
    if dims == 3:
        if cls.task is Task.SAMPLE:
            return ("fd-planes", "frd-3d", "mmd", "ms-ssim-diversity")
        return ("psnr", "ssim", "mae") if paired else ("fd-planes", "frd-3d", "mmd")
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
    spec = registries.datasets.get(dataset)
    paired, dims = spec.is_paired({}), spec.dimensions({})
    assert default_metrics(registries, model, dataset) == _expected(registries, model, paired, dims)


@pytest.mark.parametrize(
    ("model", "args", "expected"),
    [
        ("hagan3d", {}, ("fd-planes", "frd-3d", "mmd", "ms-ssim-diversity")),
        ("pix2pix3d", {}, ("psnr", "ssim", "mae")),
        ("pix2pix3d", {"paired": "false"}, ("fd-planes", "frd-3d", "mmd")),
    ],
)
def test_volume_datasets_get_the_metrics_of_volumes(
    registries: Registries, model: str, args: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert default_metrics(registries, model, "phantom-brain-3d", args) == expected


def test_a_datasets_dims_argument_decides_between_image_and_volume_metrics(
    registries: Registries,
) -> None:
    volumes = default_metrics(registries, "hagan3d", "synthrad2023", {"dims": "3"})
    assert volumes == ("fd-planes", "frd-3d", "mmd", "ms-ssim-diversity")
    assert default_metrics(registries, "hagan3d", "synthrad2023") == defaults.SAMPLING_METRICS


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
