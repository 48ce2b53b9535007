"""The geometry of volume tasks: planes named from the declared orientation."""

from __future__ import annotations

import pytest
import torch

from medganbench.core.geometry import (
    PLANES,
    VolumeGeometry,
    display_slice,
    mid_slices,
    plane_slices,
)


def _geometry(orientation: str) -> VolumeGeometry:
    return VolumeGeometry((4, 5, 6), (1.0, 1.0, 1.0), orientation)


@pytest.mark.parametrize(
    ("orientation", "axes"),
    [("SPL", (0, 1, 2)), ("RAS", (2, 1, 0)), ("PIR", (1, 0, 2)), ("lsa", (1, 2, 0))],
)
def test_plane_axes_follow_the_orientation(orientation: str, axes: tuple[int, int, int]) -> None:
    geometry = _geometry(orientation)
    assert tuple(geometry.plane_axis(p) for p in PLANES) == axes


@pytest.mark.parametrize("orientation", ["SPS", "RAX", "RA", "RASL"])
def test_an_orientation_without_one_letter_per_anatomical_axis_is_refused(
    orientation: str,
) -> None:
    with pytest.raises(ValueError, match="orientation"):
        _geometry(orientation)


@pytest.mark.parametrize(
    ("size", "spacing"),
    [((4, 5), (1.0, 1.0, 1.0)), ((4, 0, 6), (1.0, 1.0, 1.0)), ((4, 5, 6), (1.0, 0.0, 1.0))],
)
def test_bad_size_or_spacing_is_refused(
    size: tuple[int, ...], spacing: tuple[float, float, float]
) -> None:
    with pytest.raises(ValueError):
        VolumeGeometry(size, spacing, "SPL")  # type: ignore[arg-type]


def test_plane_slices_are_the_volumes_slices_in_index_order() -> None:
    volumes = torch.arange(2 * 1 * 4 * 5 * 6, dtype=torch.float32).view(2, 1, 4, 5, 6)
    geometry = _geometry("RAS")  # axial = the W axis
    slices = plane_slices(volumes, geometry, "axial")
    assert slices.shape == (2 * 6, 1, 4, 5)
    assert torch.equal(slices[0], volumes[0, :, :, :, 0])
    assert torch.equal(slices[6 + 3], volumes[1, :, :, :, 3])


def test_mid_slices_take_the_middle_index_of_each_planes_axis() -> None:
    volume = torch.randn(1, 4, 5, 6)
    planes = mid_slices(volume, _geometry("SPL"))
    assert list(planes) == list(PLANES)
    assert torch.equal(planes["axial"], volume[:, 2])
    assert torch.equal(planes["coronal"], volume[:, :, 2])
    assert torch.equal(planes["sagittal"], volume[:, :, :, 3])


@pytest.mark.parametrize("plane", PLANES)
def test_display_slices_of_one_anatomy_agree_whatever_the_array_orientation(plane: str) -> None:
    spl = torch.randn(1, 4, 5, 6)  # D toward superior, H toward posterior, W toward left
    # The same anatomy stored RAS: axis 0 toward right (W reversed), 1 anterior (H reversed),
    # 2 superior (D).
    ras = spl.permute(0, 3, 2, 1).flip(1, 2)
    a, b = VolumeGeometry((4, 5, 6), None, "SPL"), VolumeGeometry((6, 5, 4), None, "RAS")
    index_spl = 1
    # Slice 1 counted in the SPL array is slice n - 2 along a reversed axis of the RAS one.
    index_ras = {"axial": 1, "coronal": 5 - 2, "sagittal": 6 - 2}[plane]
    assert torch.equal(
        display_slice(spl, a, plane, index_spl), display_slice(ras, b, plane, index_ras)
    )


def test_an_axial_slice_is_shown_anterior_up_and_the_patients_right_on_the_left() -> None:
    volume = torch.zeros(1, 3, 4, 5)  # SPL
    volume[0, 1, 0, 0] = 1.0  # most anterior row, the patient's rightmost column
    shown = display_slice(volume, VolumeGeometry((3, 4, 5), None, "SPL"), "axial", 1)
    assert shown[0, 0, 0] == 1.0
    coronal = display_slice(volume, VolumeGeometry((3, 4, 5), None, "SPL"), "coronal", 0)
    assert coronal[0, 1, 0] == 1.0  # D index 1 of 3, shown with superior up: row 3 - 1 - 1
