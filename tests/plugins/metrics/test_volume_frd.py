"""``frd-3d``: the message without the radiomics extra, the NIfTI files it hands frd-score, and
agreement with frd-score's own command line on NIfTI folders written here independently.

As for the 2-D ``frd`` (tests/plugins/metrics/test_frd.py), the value is frd-score's own
computation; what could go wrong on our side is how the volumes reach it (quantisation, file
format, voxel spacing, which set is the reference) and how the value is read back. The
comparison needs the extra and is skipped without it (the CI installs only ``.[test]``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch

from medganbench.core.geometry import VolumeGeometry
from medganbench.core.manager import Registries
from medganbench.core.metric import EvalBatch, MetricContext, Needs
from medganbench.errors import UsageError
from medganbench_plugins.metrics.frd import INSTALL
from medganbench_plugins.metrics.volume_frd import FRD3D, write_niftis

WINDOW = (-1000.0, 1000.0)
SHAPE = (16, 16, 16)
SPACING = (2.5, 1.0, 1.25)  # anisotropic: frd-score resamples to 2 mm, so the spacing counts
GEOMETRY = VolumeGeometry(size=SHAPE, spacing=SPACING, orientation="SPL")


def _volumes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, *SHAPE, generator=g, dtype=torch.float64)
    return torch.nn.functional.avg_pool3d(x, 3, 1, 1) * 3000.0 - 1500.0


def test_registered_as_a_distribution_metric_of_volumes(registries: Registries) -> None:
    assert FRD3D.spatial_dims == (3,)
    assert FRD3D.needs is Needs.DISTRIBUTION and FRD3D.higher_is_better is False
    assert registries.metrics.get("frd-3d").load() is FRD3D


def test_without_the_extra_frd_3d_stops_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "frd_score", None)  # import fails as if not installed
    with pytest.raises(UsageError) as caught:
        FRD3D({}, MetricContext(volume=GEOMETRY))
    assert "radiomics extra" in caught.value.message and INSTALL in (caught.value.hint or "")


def test_volumes_are_written_as_uint8_nifti_with_the_dataset_spacing(tmp_path: Path) -> None:
    volumes = torch.randint(0, 256, (2, 1, 4, 5, 6), dtype=torch.uint8)
    write_niftis(volumes, SPACING, tmp_path)
    for i in range(2):
        image: Any = nib.load(tmp_path / f"{i:06d}.nii.gz")
        assert image.get_data_dtype() == np.uint8
        assert image.header.get_zooms() == pytest.approx(SPACING)
        assert np.array_equal(np.asarray(image.dataobj), volumes[i, 0].numpy())


def _hand_written(volumes: torch.Tensor, folder: Path) -> None:
    """The same volumes through the window and into NIfTI files, written out independently."""
    lo, hi = WINDOW
    grey = np.round(255.0 * (np.clip(volumes[:, 0].numpy(), lo, hi) - lo) / (hi - lo))
    folder.mkdir()
    for i, volume in enumerate(grey.astype(np.uint8)):
        image = nib.Nifti1Image(volume, np.diag([*SPACING, 1.0]))  # type: ignore[no-untyped-call]
        nib.save(image, folder / f"vol{i:03d}.nii.gz")


@pytest.mark.slow
def test_frd_3d_agrees_with_the_frd_score_command_line(tmp_path: Path) -> None:
    pytest.importorskip("frd_score", reason=f"the radiomics extra is not installed ({INSTALL})")
    pytest.importorskip("radiomics", reason=f"the radiomics extra is not installed ({INSTALL})")
    real = _volumes(4, 0)
    noise = torch.randn(real.shape, generator=torch.Generator().manual_seed(1), dtype=real.dtype)
    generated = real.flip(-1) + 150.0 * noise
    metric = FRD3D({}, MetricContext(volume=GEOMETRY))
    for gen, ref in zip(generated.tensor_split(2), real.tensor_split(2), strict=True):
        mask = torch.ones(ref.shape[0], 1, *SHAPE, dtype=torch.bool)
        metric.update(EvalBatch(gen, ref, mask, WINDOW, paired=False, domain="b"))
    ours = metric.compute()
    _hand_written(real, tmp_path / "real")
    _hand_written(generated, tmp_path / "generated")
    done = subprocess.run(
        [sys.executable, "-m", "frd_score", str(tmp_path / "real"), str(tmp_path / "generated")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    cli = float(re.findall(r"FRD \(v1\): (\S+)", done.stdout)[-1])
    print(f"FRD v1 of 16^3 volumes: ours {ours!r}, frd-score command line {cli!r}")
    assert np.isfinite(ours) and ours == pytest.approx(cli, rel=1e-9, abs=1e-9)
    details = metric.report().details
    assert details["n_real"] == details["n_generated"] == 4
    assert details["spacing_mm"] == list(SPACING) and details["log"] == "log(d^2)"


def test_a_dataset_without_one_voxel_spacing_is_refused_when_it_is_built() -> None:
    per_patient = VolumeGeometry(size=SHAPE, spacing=None, orientation="SPL", whole_volumes=True)
    with pytest.raises(UsageError, match="one voxel spacing"):
        FRD3D({}, MetricContext(volume=per_patient, dataset="synthrad2023"))


def test_without_a_volume_geometry_it_refuses() -> None:
    pytest.importorskip("frd_score", reason=f"the radiomics extra is not installed ({INSTALL})")
    pytest.importorskip("radiomics", reason=f"the radiomics extra is not installed ({INSTALL})")
    metric = FRD3D({}, MetricContext())
    volumes = _volumes(2, 2)
    mask = torch.ones(2, 1, *SHAPE, dtype=torch.bool)
    with pytest.raises(UsageError, match="volume geometry"):
        metric.update(EvalBatch(volumes, volumes, mask, WINDOW, False, "b"))
