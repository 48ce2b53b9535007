"""``frd-3d``: the Fréchet Radiomics Distance (v1) of whole volumes, through ``frd-score``.

The 3-D counterpart of :mod:`medganbench_plugins.metrics.frd`, on the same code path: the
package's own computation, not a re-implementation. Every volume is quantised to uint8 through
the target window (as every distribution metric's input), written as a NIfTI file
(``.nii.gz``, the 3-D format frd-score reads) with the dataset's voxel spacing, into two
temporary folders, real first; ``frd_score.compute_frd([real, generated], frd_version="v1")``
scores them — what the ``frd-score REAL GENERATED`` command line computes on those folders (a
test checks that). frd-score detects 3-D input and uses its 3-D configuration
(``configs/extraction_3d.yaml``):

* pyradiomics features (first order, GLCM, GLRLM, GLSZM, NGTDM on the original volume, its
  Laplacians of Gaussian with σ = 2, 3, 4, 5 mm and its wavelet bands; the numeric diagnostics
  frd-score keeps), computed natively in 3-D after resampling to 2 mm isotropic voxels (B-spline)
  — which is why the spacing written into each file is the dataset's, from its
  :class:`~medganbench.core.geometry.VolumeGeometry`; a dataset whose spacing differs from
  patient to patient (``spacing`` ``None``) is refused when the metric is built;
* the whole volume as region of interest, no body mask (frd-score's default without masks,
  leaving out one corner voxel; generated volumes have no masks, and the 2-D ``frd`` does the
  same);
* each feature z-scored with the **real** set's mean and standard deviation;
* ``log(d²)`` of the Fréchet distance, frd-score's default (the paper's ``log(d)`` is half).

It needs the radiomics extra, like ``frd`` (``pip install 'medganbench[radiomics]'``). Radiomic
extraction runs on the CPU, in one worker process.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import EvalBatch, Metric, MetricContext, MetricReport, Needs
from medganbench.core.specs import MetricSpec
from medganbench.errors import RunError
from medganbench_plugins.metrics.encoding import WINDOW_QUANTISATION
from medganbench_plugins.metrics.frd import (
    FRD_VERSION,
    INSTALL,
    MIN_IMAGES,
    frd_modules,
    frd_of_folders,
)
from medganbench_plugins.metrics.volume_inputs import (
    check_volumes,
    fixed_spacing,
    quantise_volumes,
    volume_geometry,
)

__all__ = ["FRD3D", "medganbench_metrics", "write_niftis"]


def write_niftis(volumes: torch.Tensor, spacing: tuple[float, ...], folder: Path) -> None:
    """uint8 ``(N, 1, D, H, W)`` → ``folder/000000.nii.gz``, ...: the array axes (D, H, W) as
    the file's voxel axes, ``spacing`` (mm along D, H, W) as its voxel size."""
    import nibabel as nib
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    affine = np.diag([*(float(s) for s in spacing), 1.0])
    for i, volume in enumerate(volumes[:, 0].numpy()):
        image = nib.Nifti1Image(volume, affine)  # type: ignore[no-untyped-call]
        nib.save(image, folder / f"{i:06d}.nii.gz")


class FRD3D(Metric):
    """Fréchet Radiomics Distance v1 between generated and real volumes (lower is better)."""

    needs = Needs.DISTRIBUTION
    higher_is_better = False
    spatial_dims = (3,)
    convention = (
        "FRD v1 (frd-score's compute_frd) of whole volumes: frd-score's 3-D pyradiomics "
        "features (Original, LoG sigma 2-5 mm, Wavelet; resampled to 2 mm isotropic) of uint8 "
        "NIfTI volumes quantised through the target window, written with the dataset's voxel "
        "spacing, whole volume as ROI, z-scored with the real set's statistics, value = log(d^2) "
        "of the Frechet distance (frd-score's convention); no noise floor"
    )

    def __init__(
        self, args: Mapping[str, Any] | None = None, ctx: MetricContext | None = None
    ) -> None:
        super().__init__(args, ctx)
        fixed_spacing(self.ctx, "frd-3d")  # before training: a dataset without one spacing
        _, self.package_version = frd_modules()  # before training, not at compute()

    def reset(self) -> None:
        self._shape: tuple[int, ...] | None = None
        self._real: list[torch.Tensor] = []
        self._generated: list[torch.Tensor] = []
        self._details: dict[str, Any] = {}

    def update(self, batch: EvalBatch) -> None:
        volume_geometry(self.ctx, "frd-3d")
        self._shape = check_volumes(batch, "frd-3d", self._shape)
        self._generated.append(quantise_volumes(batch.pred, batch.window).cpu())
        self._real.append(quantise_volumes(batch.target, batch.window).cpu())
        self._window = batch.window

    def compute(self) -> float:
        if not self._generated:
            raise RunError("frd-3d: no volumes were evaluated.")
        volume_geometry(self.ctx, "frd-3d")
        spacing = fixed_spacing(self.ctx, "frd-3d")
        assert spacing is not None  # volume_geometry refused a context without a geometry
        real, generated = torch.cat(self._real), torch.cat(self._generated)
        if min(len(real), len(generated)) < MIN_IMAGES:
            raise RunError(f"frd-3d needs at least {MIN_IMAGES} real and generated volumes.")
        with tempfile.TemporaryDirectory(prefix="medganbench-frd3d-") as tmp:
            write_niftis(real, spacing, Path(tmp) / "real")
            write_niftis(generated, spacing, Path(tmp) / "generated")
            value: float = frd_of_folders(Path(tmp) / "real", Path(tmp) / "generated")
        self._details = {
            "n_real": len(real),
            "n_generated": len(generated),
            "real_split": self.ctx.split,
            "frd_version": FRD_VERSION,
            "frd_score": self.package_version,
            "configuration": "frd-score 3-D (extraction_3d.yaml)",
            "log": "log(d^2)",
            "spacing_mm": list(spacing),
            "roi": "whole volume",
            "quantisation": WINDOW_QUANTISATION.replace(", gray repeated to RGB", "")
            + ", written as uint8 NIfTI",
            "window": list(self._window),
            "noise_floor": "not computed (it would extract every real volume's features again)",
        }
        return value

    def report(self) -> MetricReport:
        return MetricReport(details=self._details)


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``frd-3d`` (needs the radiomics extra to be built)."""
    return [
        MetricSpec(
            name="frd-3d",
            summary=f"Frechet Radiomics Distance v1 of whole volumes, log(d^2), via frd-score "
            f"({INSTALL}) (3-D).",
            version="1",
            factory="medganbench_plugins.metrics.volume_frd:FRD3D",
        )
    ]
