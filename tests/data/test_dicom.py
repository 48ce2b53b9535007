"""The DICOM toolkit's behaviour on well-formed files: values, headers, ids, grouping, volumes.

Files are pydicom's real ``CT_small.dcm``/``MR_small.dcm``, or CT_small with generated pixels
and tags (:mod:`tests.dicom_builders`), so every expected value is known independently of the
reader. Hostile and broken files are in ``tests/hostile/test_dicom_files.py``.
"""

from __future__ import annotations

import logging
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medganbench.data import dicom_series
from medganbench.data.dicom import (
    DicomFileError,
    DicomHeader,
    anonymise,
    assemble_series,
    group_series,
    is_dicom_candidate,
    list_dicom_files,
    read_header,
    read_pixels,
)
from tests.dicom_builders import (
    SECRET_NAME,
    SECRET_PATIENT,
    SECRET_SERIES,
    SECRET_STUDY,
    ct_dataset,
    ct_file,
    replace_once,
    write,
)


def _pixels(seed: int, shape: tuple[int, ...] = (16, 12)) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1000, 3000, shape).astype(np.int16)


def _series(folder: Path, zs: list[float], **tags: object) -> list[Path]:
    """One file per ``z``, named so that name order is not z order, pixels seeded by z."""
    return [
        ct_file(
            folder / f"im{(7 * k) % len(zs):03d}_{k}.dcm", _pixels(1000 + int(z * 10)), z=z, **tags
        )
        for k, z in enumerate(zs)
    ]


def _independent_volume(paths: list[Path], order: list[int]) -> np.ndarray:
    """The volume built the old way, from pydicom's own arrays: frames transposed, stacked."""
    frames = []
    for i in order:
        ds = pydicom.dcmread(paths[i])
        hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        frames.append(hu.astype(np.float32))
    return np.stack([frame.T for frame in frames], axis=2)


# ------------------------------------------------------------------------------------------
# One file
# ------------------------------------------------------------------------------------------


def test_hu_equal_stored_values_times_slope_plus_intercept(tmp_path: Path) -> None:
    ds = ct_dataset(_pixels(1))
    ds.RescaleSlope, ds.RescaleIntercept = 0.37, -1024.25
    path = write(ds, tmp_path / "ct.dcm")
    hu, header = read_pixels(path, rescale=True)
    stored = pydicom.dcmread(path).pixel_array
    expected = (stored.astype(np.float64) * 0.37 - 1024.25).astype(np.float32)
    assert hu.dtype == np.float32 and hu.shape == (1, 16, 12)
    assert np.array_equal(hu[0], expected)


def test_ct_small_hu_match_pydicom(tmp_path: Path) -> None:
    path = Path(get_testdata_file("CT_small.dcm"))
    hu, header = read_pixels(path, rescale=True)
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert header.modality == "CT" and np.array_equal(hu[0].astype(np.float64), expected)


def test_mr_without_rescale_gives_stored_values() -> None:
    path = Path(get_testdata_file("MR_small.dcm"))
    pixels, header = read_pixels(path, rescale=False)
    assert header.modality == "MR"
    assert np.array_equal(pixels[0], pydicom.dcmread(path).pixel_array.astype(np.float32))


def test_multi_frame_file_gives_one_plane_per_frame(tmp_path: Path) -> None:
    frames = _pixels(2, (3, 16, 12))
    path = ct_file(tmp_path / "multi.dcm", frames)
    pixels, header = read_pixels(path, rescale=False)
    assert header.frames == 3 and np.array_equal(pixels, frames.astype(np.float32))


def test_header_holds_the_geometry_tags(tmp_path: Path) -> None:
    ds = ct_dataset(z=12.5, instance=7, spacing=(0.5, 0.75))
    ds.SliceThickness, ds.SpacingBetweenSlices = 2.0, 2.5
    header = read_header(write(ds, tmp_path / "a.dcm"))
    assert (header.rows, header.columns, header.frames) == (16, 12, 1)
    assert header.position == 12.5 and header.instance == 7
    assert header.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert header.pixel_spacing == (0.5, 0.75)
    assert (header.slice_thickness, header.slice_spacing) == (2.0, 2.5)
    assert (header.patient, header.study, header.series) == (
        SECRET_PATIENT,
        SECRET_STUDY,
        SECRET_SERIES,
    )


def test_header_without_geometry_tags_has_none(tmp_path: Path) -> None:
    header = read_header(ct_file(tmp_path / "a.dcm", z=None, instance=None, spacing=None))
    assert header.position is None and header.orientation is None
    assert header.instance is None and header.pixel_spacing is None


def test_read_header_does_not_decode_the_pixels(tmp_path: Path) -> None:
    ds = ct_dataset(_pixels(3))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.RLELossless
    ds.PixelData = pydicom.encaps.encapsulate([b"\x01" + bytes(63)])  # not RLE at all
    ds["PixelData"].VR = "OB"
    path = write(ds, tmp_path / "rle.dcm")
    assert read_header(path).rows == 16
    with pytest.raises(DicomFileError, match="cannot be decoded"):
        read_pixels(path, rescale=True)


@pytest.mark.filterwarnings("ignore:The pixel data is 8320 bytes long")
def test_padding_less_than_a_frame_is_accepted() -> None:
    # pydicom's test file whose pixel data run 128 bytes past the one 64 x 64 frame.
    path = Path(get_testdata_file("MR_small_padded.dcm"))
    pixels, _ = read_pixels(path, rescale=False)
    assert pixels.shape == (1, 64, 64)


def test_deflated_file_reads_like_pydicom() -> None:
    path = Path(get_testdata_file("image_dfl.dcm"))
    pixels, _ = read_pixels(path, rescale=False)
    assert np.array_equal(pixels[0], pydicom.dcmread(path).pixel_array.astype(np.float32))


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"])
def test_compressed_files_read_like_pydicom(name: str) -> None:
    path = Path(get_testdata_file(name))
    pixels, _ = read_pixels(path, rescale=False)
    assert np.array_equal(pixels[0], pydicom.dcmread(path).pixel_array.astype(np.float32))


# ------------------------------------------------------------------------------------------
# Files, ids, privacy
# ------------------------------------------------------------------------------------------


def test_candidates_by_name() -> None:
    names = {"a.dcm": True, "b.DICOM": True, "c.ima": True, "IM0001": True, "1.2.840.113": True}
    names |= {"DICOMDIR": False, "notes.txt": False, "scan.nii.gz": False}
    assert {n: is_dicom_candidate(Path(n)) for n in names} == names


def test_listing_leaves_out_hidden_excluded_and_other_files(tmp_path: Path) -> None:
    for rel in ("p1/b.dcm", "p1/a", "p2/1.2.3", "p1/.hidden.dcm", ".git/x.dcm"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    for rel in ("__MACOSX/p1/b.dcm", "cache/c.dcm", "p1/readme.txt", "p1/DICOMDIR"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    files, ignored = list_dicom_files(tmp_path, exclude=tmp_path / "cache")
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["p1/a", "p1/b.dcm", "p2/1.2.3"]
    assert ignored == 2


def _header(patient: str, study: str, series: str) -> DicomHeader:
    return DicomHeader("CT", 4, 4, 1, None, None, None, None, None, patient, study, series)


def test_anonymous_ids_are_the_ones_dicom_folder_always_gave() -> None:
    # Golden ids computed once with medganbench_plugins.datasets.dicom_series.anonymise, the
    # algorithm splits have been made with: they must not change.
    uid = "1.2.826.0.1.3680043.8.498.77700"
    headers = [
        _header(SECRET_PATIENT, f"{uid}1", f"{uid}2"),
        _header(SECRET_PATIENT, f"{uid}1", f"{uid}3"),
        _header("OTHER-PATIENT", f"{uid}4", f"{uid}5"),
        _header("", f"{uid}6", f"{uid}7"),
    ]
    patients, series = anonymise(headers)
    assert patients == ["2e492457b7a1", "2e492457b7a1", "43f622e3c9dc", "f9c43405682f"]
    assert series == ["39f3c222e8de", "043de3217225", "71d436d45d8c", "7fdc34de4752"]


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")
def test_no_identifier_reaches_a_repr_a_message_or_a_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = _series(tmp_path / "s", [0.0, 2.5, 5.0])
    header = read_header(good[0])
    (grouped,) = group_series(good, [read_header(p) for p in good])
    ds = ct_dataset(_pixels(4), z=2.5)
    ds.NumberOfFrames = 31415926
    bad = replace_once(write(ds, tmp_path / "bad" / "x.dcm"), b"31415926", b"manymany")
    dup = ct_file(tmp_path / "dup" / "y.dcm", _pixels(5), z=2.5)
    errors = []
    for attempt in (
        lambda: read_pixels(bad, rescale=True),
        lambda: assemble_series([*good, dup], rescale=True),
        lambda: assemble_series([*good, bad], rescale=True),
    ):
        with pytest.raises(DicomFileError) as caught:
            attempt()
        errors.append(str(caught.value))
    visible = [repr(header), repr(grouped), str(header), *errors, caplog.text]
    secrets = (SECRET_PATIENT, SECRET_NAME, "SECRETNAME", SECRET_STUDY, SECRET_SERIES)
    assert not [s for s in secrets for text in visible if s in text]


# ------------------------------------------------------------------------------------------
# Grouping and order
# ------------------------------------------------------------------------------------------


def test_series_are_grouped_by_anonymous_patient_and_series(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.9"
    files = []
    for p in range(2):
        for s in range(2):
            tags = {"patient": f"P{p}", "study": f"{uid}{p}", "series": f"{uid}{p}{s}"}
            files += _series(tmp_path / f"p{p}s{s}", [0.0, 1.0, 2.0], **tags)
    random.Random(0).shuffle(files)
    headers = [read_header(f) for f in files]
    grouped = group_series(files, headers)
    patients, series = anonymise(headers)
    assert [(g.patient, g.series) for g in grouped] == sorted(
        set(zip(patients, series, strict=True))
    )
    assert {len({f.parent for f in g.files}) for g in grouped} == {1}  # one folder per series
    assert sorted(f for g in grouped for f in g.files) == sorted(files)


def test_files_are_ordered_by_position_not_by_name(tmp_path: Path) -> None:
    zs = [7.5, -2.5, 5.0, 0.0, 2.5]
    files = _series(tmp_path, zs)
    (series,) = group_series(files, [read_header(f) for f in files])
    assert [read_header(f).position for f in series.files] == sorted(zs)


def test_without_geometry_the_order_is_instance_then_name(tmp_path: Path) -> None:
    files = [
        ct_file(tmp_path / "c.dcm", z=None, instance=2),
        ct_file(tmp_path / "b.dcm", z=None, instance=None),
        ct_file(tmp_path / "a.dcm", z=None, instance=None),
        ct_file(tmp_path / "d.dcm", z=None, instance=1),
    ]
    (series,) = group_series(files, [read_header(f) for f in files])
    assert [f.name for f in series.files] == ["d.dcm", "c.dcm", "a.dcm", "b.dcm"]


# ------------------------------------------------------------------------------------------
# Volumes
# ------------------------------------------------------------------------------------------


def test_volume_equals_the_transposed_stack_in_anatomical_order(tmp_path: Path) -> None:
    zs = [5.0, 0.0, 7.5, 2.5]
    files = _series(tmp_path, zs)
    volume, _ = assemble_series(files, rescale=True)
    expected = _independent_volume(files, sorted(range(len(zs)), key=lambda i: zs[i]))
    assert volume.shape == (12, 16, 4) and volume.dtype == np.float32
    assert np.array_equal(volume, expected)


def test_volume_planes_are_contiguous(tmp_path: Path) -> None:
    volume, _ = assemble_series(_series(tmp_path, [0.0, 1.0, 2.0]), rescale=True)
    assert volume.transpose(2, 1, 0).flags.c_contiguous
    assert all(volume[:, :, k].T.flags.c_contiguous for k in range(3))


def test_spacing_is_columns_rows_and_the_gap_between_positions(tmp_path: Path) -> None:
    _, spacing = assemble_series(
        _series(tmp_path, [0.0, 1.25, 2.5], spacing=(0.5, 0.75)), rescale=True
    )
    assert spacing == (0.75, 0.5, 1.25)


@pytest.mark.parametrize(
    ("between", "thickness", "expected"), [(3.0, 2.0, 3.0), (None, 2.0, 2.0), (None, None, 1.0)]
)
def test_spacing_without_positions_comes_from_the_tags(
    tmp_path: Path, between: float | None, thickness: float | None, expected: float
) -> None:
    files = []
    for k in range(3):
        ds = ct_dataset(_pixels(k), z=None, instance=k + 1, spacing=None)
        del ds.SliceThickness, ds.SpacingBetweenSlices
        if between is not None:
            ds.SpacingBetweenSlices = between
        if thickness is not None:
            ds.SliceThickness = thickness
        files.append(write(ds, tmp_path / f"{k}.dcm"))
    volume, spacing = assemble_series(files, rescale=False)
    assert spacing == (1.0, 1.0, expected)
    assert np.array_equal(volume[:, :, 1], _pixels(1).T.astype(np.float32))


def test_multi_frame_series_gives_its_frames_in_order(tmp_path: Path) -> None:
    frames = _pixels(6, (4, 16, 12))
    volume, spacing = assemble_series([ct_file(tmp_path / "m.dcm", frames)], rescale=False)
    assert np.array_equal(volume, np.stack([f.T for f in frames.astype(np.float32)], axis=2))
    assert spacing[2] == 5.0  # CT_small's SliceThickness: frames have no position each


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pixels": np.zeros((16, 10), np.int16)}, "different sizes"),
        ({"orientation": [1, 0, 0, 0, 0.9, 0.1]}, "different orientations"),
        ({"spacing": (0.5, 0.8)}, "different pixel spacings"),
        ({"z": 5.0}, "same position"),
        ({"z": 12.5}, "unevenly spaced"),
        ({"z": None}, "have a position and others do not"),
    ],
)
def test_inconsistent_geometry_is_refused_before_decoding(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    files = _series(tmp_path, [0.0, 2.5, 5.0, 7.5])
    ds = ct_dataset(
        change.get("pixels", _pixels(9)),  # type: ignore[arg-type]
        z=change.get("z", 10.0),  # type: ignore[arg-type]
        spacing=change.get("spacing", (0.5, 0.75)),  # type: ignore[arg-type]
    )
    if "orientation" in change:
        ds.ImageOrientationPatient = change["orientation"]
    files.append(write(ds, tmp_path / "odd.dcm"))
    with pytest.raises(DicomFileError, match=message) as caught:
        assemble_series(files, rescale=True)
    assert not any(ch.isdigit() for ch in caught.value.message)  # no geometry in the message


def test_series_over_the_voxel_limit_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16 slices of 16 x 16 pass at a 16-pixel limit (16 * 16**2 voxels); a 17th does not.
    monkeypatch.setenv("MEDGANBENCH_MAX_IMAGE_SIDE", "16")
    files = [ct_file(tmp_path / f"{k}.dcm", _pixels(k, (16, 16)), z=float(k)) for k in range(17)]
    assert assemble_series(files[:16], rescale=True)[0].shape == (16, 16, 16)

    def decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("pixels decoded before the series' size was checked")

    monkeypatch.setattr(dicom_series, "read_pixels_into", decode)
    with pytest.raises(DicomFileError, match="more voxels than the limit .*MEDGANBENCH_MAX"):
        assemble_series(files, rescale=True)


def test_a_bad_file_is_named_in_the_series_message(tmp_path: Path) -> None:
    files = _series(tmp_path, [0.0, 1.0, 2.0])
    (tmp_path / "broken.dcm").write_text("not dicom")
    with pytest.raises(DicomFileError, match=r"^broken\.dcm: not a DICOM file"):
        assemble_series([*files, tmp_path / "broken.dcm"], rescale=True)


@pytest.mark.slow
def test_a_ct_series_assembles_in_about_one_volume_of_memory(tmp_path: Path) -> None:
    # 512 x 512 int16 CT slices; 48 of them keep the traced run to a few seconds (300 were
    # measured once: 302.9 MiB peak for a 300 MiB volume, against 900 MiB for the old reader).
    rows = cols = 512
    slices = 48
    plane = np.arange(rows * cols, dtype=np.int16).reshape(rows, cols)
    ds = ct_dataset(plane)
    files = []
    for k in range(slices):
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.PixelData = (plane + k).tobytes()
        files.append(write(ds, tmp_path / f"{k:03d}.dcm"))
    tracemalloc.start()
    try:
        volume, _ = assemble_series(files, rescale=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_volume = rows * cols * slices * 4
    assert volume[3, 2, slices - 1] == float(plane[2, 3]) + slices - 1 - 1024
    # The volume, plus one slice's bytes, int16 array and float64 scratch (~3.5 MB), plus the
    # headers: far under the three volumes that a list of slices and np.stack took.
    assert peak < one_volume + 8 * 2**20, (peak, one_volume)
