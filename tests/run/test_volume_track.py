"""The 3-D track's translation half, end to end: ``pix2pix3d`` on a generated SynthRAD 2023 tree
served as volumes (``dims=3``) writes per-patient rows under the challenge's conventions, each
patient's value that of the whole-volume prediction (issue 35's second done-when)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medganbench import api
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY
from medganbench.run.windows import translate_by_windows
from medganbench_plugins.metrics.synthrad import HU_RANGES, challenge_mae, challenge_psnr
from tests.dataset_trees import patient_volumes, write_volume

SIDE = 32
NARROW = {"ngf": "4", "ndf": "4"}
CHALLENGE = {"convention": "synthrad2023"}
DATASET_ARGS = {"dims": "3", "val_fraction": "0.25", "test_fraction": "0.5"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four brain patients of 40 axial slices: longer than a 32-slice window, so the whole
    volume is translated in two overlapping windows."""
    root = tmp_path_factory.mktemp("synthrad2023")
    for k in range(4):
        patient = root / "Task1" / "brain" / f"1BA{k:03d}"
        patient.mkdir(parents=True)
        volumes = patient_volumes(k, shape=(20, 24, 40))
        for role in ("mr", "ct", "mask"):
            write_volume(patient / f"{role}.nii.gz", volumes[role])
    return root


@pytest.mark.slow
def test_pix2pix3d_on_synthrad_volumes_writes_per_patient_rows_of_whole_volumes(
    tree: Path, tmp_path: Path
) -> None:
    args = {"root": str(tree), **DATASET_ARGS}
    result = api.run(
        "pix2pix3d",
        "synthrad2023",
        "steps=2",
        image_size=SIDE,
        metrics=["psnr", "mae"],
        model_args=NARROW,
        dataset_args=args,
        metric_args={"psnr": CHALLENGE, "mae": CHALLENGE},
        leaderboard_dir=tmp_path / "boards",
        runs_dir=tmp_path / "runs",
        progress=False,
    )
    rows = {(r.metric, r.eval_unit): r for r in result.rows}
    assert set(rows) == {("psnr", "slice"), ("mae", "slice"), ("psnr", "volume"), ("mae", "volume")}
    assert (tmp_path / "runs" / result.run_id / "samples.png").is_file()

    # Independently: each test patient's whole volume, translated window by window with the
    # generator the run handed back, scored in 3-D as the challenge scores it.
    generator = api.load_generator(result.run_dir)
    split = api.load_split("synthrad2023", "test", image_size=SIDE, dataset_args=args)
    ids = split.volume_ids()  # type: ignore[attr-defined]
    hu = HU_RANGES["synthrad2023"]
    want_psnr, want_mae = {}, {}
    for i in range(len(split)):  # type: ignore[arg-type]
        item = split[i]
        assert item["a"].shape[1] == 40 and int(item[SLICE_KEY]) == 0
        source = generator.config.dataset_info.a.to_unit(item["a"][None])
        with torch.no_grad():
            pred = translate_by_windows(generator, source, SIDE, 0)
        pred_hu = generator.config.dataset_info.b.from_unit(pred.float())
        target, mask = item["b"][None], item["mask_b"][None]
        key = ids[int(item[VOLUME_KEY])]
        want_psnr[key] = float(challenge_psnr(pred_hu, target, mask, hu_range=hu))
        want_mae[key] = float(challenge_mae(pred_hu, target, mask))
    psnr_patients = json.loads(rows[("psnr", "volume")].metric_details)["patients"]
    mae_patients = json.loads(rows[("mae", "volume")].metric_details)["patients"]
    assert len(psnr_patients) == 2
    assert psnr_patients == pytest.approx(want_psnr, rel=1e-4)
    assert mae_patients == pytest.approx(want_mae, rel=1e-4)
