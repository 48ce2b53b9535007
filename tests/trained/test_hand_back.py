"""A recorded run hands back its generator: it reloads bit for bit (here and in a fresh
process, from the run folder and from an export), translates images and whole volumes in the
dataset's units with the input's geometry, and replays the run's own scores."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nibabel as nib
import numpy as np
import pyarrow.compute as pc
import pytest
import torch

from medganbench import api
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.record import RunResult
from tests.cli_runner import cli_in_process
from tests.dicom_builders import ct_file

# Every test here uses the module's trained run (a few seconds of training).
pytestmark = pytest.mark.slow

SMALL = {"train_subjects": 2, "val_subjects": 2, "test_subjects": 2, "slices_per_subject": 3}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunResult]:
    """hlsnc (the issue's model) trained 2 steps at 32 px on a small paired phantom."""
    where = tmp_path_factory.mktemp("hand_back")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDGANBENCH_HOME", str(tmp_path_factory.getbasetemp() / "home"))
        patch.setenv("MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
        yield api.run(
            "hlsnc",
            budget="steps=2",
            image_size=32,
            metrics=("psnr", "mae"),
            dataset_args=SMALL,
            leaderboard_dir=where / "leaderboards",
            runs_dir=where / "runs",
            device="cpu",
        )


def _mr_volume(shape: tuple[int, int, int] = (40, 48, 5)) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = np.zeros(shape, np.float32)
    data[6:-6, 8:-8, :] = rng.uniform(100.0, 900.0, (shape[0] - 12, shape[1] - 16, shape[2]))
    return data


def test_a_recorded_run_leaves_its_generator_beside_its_result(trained: RunResult) -> None:
    result = json.loads((trained.run_dir / "result.json").read_text())
    config = json.loads((trained.run_dir / "generator.json").read_text())
    assert result["generator"] == "generator.json"
    assert config["run_id"] == trained.run_id and config["model"] == "hlsnc"
    # Both generators, no discriminator.
    assert {name.split(".")[0] for name in config["tensors"]} == {"g_ab", "g_ba"}


def test_translating_the_test_inputs_replays_the_runs_scores(
    trained: RunResult, tmp_path: Path
) -> None:
    args = [a for k, v in SMALL.items() for a in ("--dataset-arg", f"{k}={v}")]
    done = cli_in_process(
        "datasets", "export", "phantom-brain", "--out", "ex", "--image-size", "32", *args,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli_in_process(
        "translate", str(trained.run_dir), "--input", "ex/inputs", "--out", "outs", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    replay = api.score(
        tmp_path / "outs", dataset="phantom-brain", name="replay", image_size=32,
        metrics=("psnr", "mae"), dataset_args=SMALL, leaderboard_dir=tmp_path / "lb",
        runs_dir=tmp_path / "runs",
    )  # fmt: skip
    mine = {(r.metric, r.eval_unit): r.value for r in replay.rows}
    for row in trained.rows:
        if row.direction == "a2b" and row.eval_grid == "image_size":
            assert mine[(row.metric, row.eval_unit)] == pytest.approx(row.value, rel=1e-5)


def test_a_nifti_comes_back_with_its_affine_shape_and_hu_values(
    trained: RunResult, tmp_path: Path
) -> None:
    affine = np.array([[-0.9, 0, 0, 10], [0, 1.1, 0, -20], [0, 0, 2.5, 5], [0, 0, 0, 1.0]])
    nib.save(nib.Nifti1Image(_mr_volume(), affine), tmp_path / "some.nii.gz")
    done = cli_in_process(
        "translate", str(trained.run_dir), "--input", "some.nii.gz", "--out", "x", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = nib.load(tmp_path / "x" / "some.nii.gz")
    data = np.asarray(out.dataobj)
    assert out.shape == (40, 48, 5) and np.allclose(out.affine, affine)
    assert data.dtype == np.float32
    assert data.min() >= -1024.0 and data.max() <= 3000.0 and data.max() - data.min() > 1.0
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert manifest["target_domain"]["units"] == "HU"
    assert manifest["files"] == [
        {"input": "some.nii.gz", "output": "some.nii.gz", "kind": "volume", "slices": 5}
    ]


def test_slices_at_the_image_size_are_translated_as_the_generator_translates_them(
    trained: RunResult,
) -> None:
    from medganbench.trained.translation import translate_volume

    generator = api.load_generator(trained.run_dir, device="cpu")
    volume = np.random.default_rng(1).uniform(0.0, 1.0, (32, 32, 3)).astype(np.float32)
    out = translate_volume(generator, volume, input_units="domain")
    planes = torch.from_numpy(np.moveaxis(volume, 2, 0)[:, None].copy())
    expected = generator.translate(planes).numpy()[:, 0]
    assert np.array_equal(np.moveaxis(out, 2, 0), expected)


def test_a_dicom_series_comes_back_as_nifti_at_the_series_position(
    trained: RunResult, tmp_path: Path
) -> None:
    for k in range(3):
        pixels = (np.arange(20 * 24).reshape(20, 24) % 50 * 10).astype(np.int16)
        ct_file(tmp_path / "series" / f"{k}.dcm", pixels, z=2.0 * k, instance=k + 1)
    done = cli_in_process(
        "translate", str(trained.run_dir), "--input", "series", "--out", "x",
        "--direction", "b2a", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = nib.load(tmp_path / "x" / "series.nii.gz")
    assert out.shape == (24, 20, 3)
    # ImagePositionPatient (-10, 20, 0) in LPS is (10, -20, 0) in RAS; columns 0.75 mm apart
    # along x, rows 0.5 mm along y, slices 2 mm along z.
    assert np.allclose(out.affine[:3, 3], [10.0, -20.0, 0.0])
    assert np.allclose(np.diag(out.affine)[:3], [-0.75, -0.5, 2.0])


def test_an_export_reloads_bit_for_bit_in_a_fresh_process(
    trained: RunResult, tmp_path: Path
) -> None:
    folder = api.export(
        trained.run_dir, tmp_path / "export", leaderboard_dir=trained.leaderboard.parent
    )
    probe = torch.linspace(0.0, 1.0, 2 * 32 * 32).reshape(2, 1, 32, 32)
    here = api.load_generator(trained.run_dir, device="cpu").translate(probe)
    torch.save(probe, tmp_path / "probe.pt")
    code = (
        "import sys, torch; from medganbench import api; "
        "g = api.load_generator(sys.argv[1], device='cpu'); "
        "torch.save(g.translate(torch.load(sys.argv[2])), sys.argv[3])"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(folder), str(tmp_path / "probe.pt"), str(tmp_path / "o.pt")],
        check=True, env={**__import__("os").environ, "MEDGANBENCH_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )  # fmt: skip
    assert torch.equal(torch.load(tmp_path / "o.pt"), here)


def test_the_model_card_states_data_budget_scores_conventions_and_licence(
    trained: RunResult, tmp_path: Path
) -> None:
    done = cli_in_process(
        "export", str(trained.run_dir), "--out", "e", "--license", "cc-by-4.0",
        "--leaderboard-dir", str(trained.leaderboard.parent), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == [
        "README.md", "generator.json", "generator.safetensors",
    ]  # fmt: skip
    card = (tmp_path / "e" / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0\n")
    assert "fingerprint" in card and "budget: 2 steps" in card
    table = read_leaderboard(trained.leaderboard)
    row = table.filter(pc.equal(table["metric"], "psnr")).to_pylist()[0]
    assert f"{row['value']:.4f}" in card and "10*log10" in card  # the value and its convention
    assert "(2 patients)" in card  # a bootstrap interval over the per-patient values
    assert "Not a medical device" in card


def test_a_licence_that_is_not_an_identifier_is_refused(trained: RunResult, tmp_path: Path) -> None:
    done = cli_in_process(
        "export", str(trained.run_dir), "--out", "e", "--license", "see ../LICENSE", cwd=tmp_path
    )
    assert done.returncode == 2 and "is not a licence identifier" in done.stderr


class _StandInHub:
    """What export --push uses of huggingface_hub, recording the calls."""

    def __init__(self, token: str | None) -> None:
        self.token, self.calls = token, []

    def module(self) -> SimpleNamespace:
        hub = self

        class HfApi:
            def __init__(self, token: str) -> None:
                hub.calls.append(("token", token))

            def create_repo(self, repo_id: str, **kwargs: Any) -> None:
                hub.calls.append(("create_repo", repo_id, kwargs))

            def upload_folder(self, **kwargs: Any) -> None:
                hub.calls.append(("upload_folder", kwargs))

        return SimpleNamespace(get_token=lambda: self.token, HfApi=HfApi)


def test_push_uploads_the_export_to_a_model_repository(
    trained: RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = _StandInHub("hf_secret")
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub.module())
    done = cli_in_process(
        "export", str(trained.run_dir), "--out", "e", "--push", "org/my-hlsnc", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "https://huggingface.co/org/my-hlsnc" in done.stdout
    assert hub.calls[1] == ("create_repo", "org/my-hlsnc", {"repo_type": "model", "exist_ok": True})
    upload = hub.calls[2][1]
    assert (
        upload["folder_path"] == str((tmp_path / "e").resolve()) and upload["repo_type"] == "model"
    )
    assert sorted(upload["allow_patterns"]) == [
        "README.md",
        "generator.json",
        "generator.safetensors",
    ]


def test_push_without_credentials_is_one_message_and_keeps_the_export(
    trained: RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", _StandInHub(None).module())
    done = cli_in_process(
        "export", str(trained.run_dir), "--out", "e", "--push", "org/name", cwd=tmp_path
    )
    assert done.returncode == 1 and "No Hugging Face credentials" in done.stderr
    assert (tmp_path / "e" / "generator.safetensors").is_file()


def test_a_folder_of_unknown_files_is_refused_before_anything_is_translated(
    trained: RunResult, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("hello")
    done = cli_in_process(
        "translate", str(trained.run_dir), "--input", "in", "--out", "o", cwd=tmp_path
    )
    assert done.returncode == 2 and "notes.txt" in done.stderr
    assert not (tmp_path / "o").exists()
