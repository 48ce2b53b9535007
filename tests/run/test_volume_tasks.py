"""Volume tasks in the runner: 3-D outputs scored whole by metrics of volumes and as axial
slices by pixel-wise ones, per patient from those slices, and shown as mid-slice grids."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch

from medganbench.cli.run_spec import spec_from_options
from medganbench.core.dataset import DomainInfo
from medganbench.core.geometry import VolumeGeometry
from medganbench.core.manager import Registries
from medganbench.core.metric import EvalBatch, Metric, Needs
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY
from medganbench.errors import UsageError
from medganbench.run.dataset_checks import scores_dimensions
from medganbench.run.device import effective_precision
from medganbench.run.evaluate import feed
from medganbench.run.samples import LABEL_HEIGHT, grid_rows, render_sample_grid
from medganbench.run.spec import default_image_size
from medganbench.run.volume_slices import as_slices, axial_depth, slice_positions
from medganbench.run.volumes import VolumeCollector

CT = DomainInfo(name="CT", modality="CT", units="HU", window=(-1024.0, 3000.0))
# Axial = the W axis: a test that took axis D for the axial one would fail.
RAS = VolumeGeometry((3, 4, 5), (1.0, 1.0, 1.0), "RAS")


class _Recorder(Metric):
    """Keeps the shapes of what it was given."""

    needs = Needs.PAIRED
    higher_is_better = True
    spatial_dims: ClassVar[tuple[int, ...]] = (2,)

    def reset(self) -> None:
        self.seen: list[tuple[int, ...]] = []

    def update(self, batch: EvalBatch) -> None:
        self.seen.append(tuple(batch.pred.shape))

    def compute(self) -> float:
        return 0.0


class _VolumeRecorder(_Recorder):
    needs = Needs.DISTRIBUTION
    spatial_dims = (3,)


class _Distribution2D(_Recorder):
    needs = Needs.DISTRIBUTION


def _batch(n: int = 2) -> EvalBatch:
    pred = torch.randn(n, 1, 3, 4, 5)
    return EvalBatch(
        pred=pred,
        target=pred + 1,
        mask=pred > 0,
        window=CT.window,
        paired=True,
        labels=(pred > 0).long(),
    )


def test_as_slices_cuts_every_tensor_across_the_declared_axial_axis() -> None:
    batch = _batch()
    slices = as_slices(batch, RAS)
    assert slices.pred.shape == (2 * 5, 1, 3, 4)
    assert torch.equal(slices.pred[5 + 2], batch.pred[1, :, :, :, 2])
    assert torch.equal(slices.mask[7], batch.mask[1, :, :, :, 2])
    assert slices.labels is not None and torch.equal(slices.labels[1], batch.labels[0, ..., 1])  # type: ignore[index]
    assert axial_depth(batch.pred, RAS) == 5


def test_slice_positions_name_each_slices_patient_and_axial_index() -> None:
    raw = {VOLUME_KEY: torch.tensor([4, 1]), SLICE_KEY: torch.tensor([0, 10])}
    positions = slice_positions(raw, "b", depth=3)
    assert positions is not None
    assert positions[VOLUME_KEY].tolist() == [4, 4, 4, 1, 1, 1]
    assert positions[SLICE_KEY].tolist() == [0, 1, 2, 10, 11, 12]
    assert slice_positions({}, "b", depth=3) is None


def test_feed_gives_volumes_to_volume_metrics_and_slices_to_pixelwise_ones() -> None:
    pixelwise, volumes = _Recorder(), _VolumeRecorder()
    feed({"p": pixelwise, "v": volumes}, _batch(), {}, None, RAS, "b")
    assert pixelwise.seen == [(10, 1, 3, 4)]
    assert volumes.seen == [(2, 1, 3, 4, 5)]


def test_feed_leaves_2d_batches_whole() -> None:
    pixelwise = _Recorder()
    batch = EvalBatch(
        torch.zeros(2, 1, 4, 4),
        torch.zeros(2, 1, 4, 4),
        torch.ones(2, 1, 4, 4) > 0,
        CT.window,
        True,
    )
    feed({"p": pixelwise}, batch, {}, None, None, "b")
    assert pixelwise.seen == [(2, 1, 4, 4)]


@pytest.mark.parametrize(
    ("metric", "dims", "ok"),
    [
        (_Recorder, 2, True),
        (_Recorder, 3, True),  # pixel-wise: scored as axial slices and per patient
        (_VolumeRecorder, 3, True),
        (_VolumeRecorder, 2, False),
        (_Distribution2D, 3, False),  # a 2-D distribution metric would compare slices, not volumes
        (_Distribution2D, 2, True),
    ],
)
def test_which_metrics_score_which_dimensions(metric: type[Metric], dims: int, ok: bool) -> None:
    assert scores_dimensions(metric(), dims) is ok


def test_a_volume_grid_shows_three_mid_slices_per_volume_and_says_so() -> None:
    geometry = VolumeGeometry((8, 8, 8), (1.0, 1.0, 1.0), "SPL")
    volumes = torch.full((2, 1, 8, 8, 8), -1024.0)
    volumes[:, :, 4] = 3000.0  # the axial mid-slice white, every other slice black
    rows = grid_rows(
        "a2b", (CT, volumes), (CT, volumes), (CT, volumes), a=CT, b=CT, geometry=geometry
    )
    assert all(row.geometry is geometry for row in rows)
    image = np.asarray(render_sample_grid(rows, pad=2))
    tile = image[2 + LABEL_HEIGHT : 2 + LABEL_HEIGHT + 8, 2 : 2 + 3 * 8 + 2 * 2]
    assert tile.shape == (8, 28)
    assert (tile[:, :8] == 255).all()  # axial mid-slice: all white
    assert (tile[:, 10:18] == 255).sum() == 8  # coronal: one white row (D index 4)
    assert (tile[:, 20:28] == 255).sum() == 8  # sagittal: one white row
    assert (tile[:, 8:10] == 255).all()  # the white gap between planes


@pytest.mark.parametrize(("requested", "bf16"), [("auto", False), ("fp32", False)])
def test_3d_models_train_in_fp32_on_a_cpu(requested: str, bf16: bool) -> None:
    cpu = torch.device("cpu")
    assert effective_precision(requested, cpu, spatial_dims=3) is bf16


def test_bf16_for_a_3d_model_on_a_cpu_is_refused_with_the_reason() -> None:
    with pytest.raises(UsageError, match="Conv3d"):
        effective_precision("bf16", torch.device("cpu"), spatial_dims=3)
    assert effective_precision("bf16", torch.device("cpu"), spatial_dims=2) is True


def test_a_run_without_image_size_takes_the_datasets_own(registries: Registries) -> None:
    assert default_image_size(registries, "phantom-brain-3d") == 32
    assert default_image_size(registries, "phantom-brain") == 64
    spec = spec_from_options(registries, "hagan3d", dataset="phantom-brain-3d", metrics="mmd")
    assert spec.image_size == 32
    assert (
        spec_from_options(
            registries, "hagan3d", dataset="phantom-brain-3d", image_size=64, metrics="mmd"
        ).image_size
        == 64
    )


class _VolumeShapes(_Recorder):
    """A paired metric that also scores whole patients, keeping what each patient was."""

    def score_volume(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        *,
        window: tuple[float, float],
        mask: torch.Tensor,
    ) -> float:
        self.patients = getattr(self, "patients", []) + [(pred.clone(), mask.clone())]
        return 0.0


def test_slices_without_body_reach_neither_the_metrics_nor_the_patients_volume() -> None:
    metric = _VolumeShapes()
    batch = _batch(n=1)
    mask = torch.ones(1, 1, 3, 4, 5, dtype=torch.bool)
    mask[..., 0] = False  # axial slice 0 (the W axis under RAS) holds no body
    batch = EvalBatch(batch.pred, batch.target, mask, CT.window, True)
    collector = VolumeCollector(["p"], {"m": metric}, CT.window)
    raw = {VOLUME_KEY: torch.tensor([0]), SLICE_KEY: torch.tensor([10])}
    feed({"m": metric}, batch, raw, collector, RAS, "b")
    assert metric.seen == [(4, 1, 3, 4)]
    collector.scores()
    ((pred, held),) = metric.patients
    assert pred.shape == (1, 4, 3, 4) and bool(held.all())
    assert torch.equal(pred[:, 0], batch.pred[0, :, :, :, 1])
