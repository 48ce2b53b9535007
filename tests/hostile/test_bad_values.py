"""Point 6: bad values are refused before training, with one message.

Values a leaderboard cannot hold (a seed or a step budget beyond int64), floats that are not
finite where a finite one is declared, and images larger than the decoders' pixel limit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.cli_runner import cli_in_process
from tests.hostile.conftest import assert_one_message, cli

BEYOND_INT64 = str(2**63)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--seed", BEYOND_INT64), "does not fit a 64-bit integer"),
        (("--budget", f"steps={BEYOND_INT64}"), "too large"),
        (("--model-arg", "lr=nan"), "not a finite number"),
        (("--model-arg", "lr=inf"), "not a finite number"),
        (("--dataset", "paired-folder", "--dataset-arg", "val_fraction=-inf"), "not a finite"),
    ],
    ids=["seed", "steps", "nan", "inf", "minus-inf"],
)
def test_a_value_the_run_cannot_hold_is_refused_before_training(
    work: Path, args: tuple[str, ...], said: str
) -> None:
    # Refused before anything is built: in this process (tests/cli_runner.py).
    proc = cli_in_process("run", "--model", "hlsnc", *args, "--no-progress", cwd=work)
    assert_one_message(proc, code=2)
    assert said in proc.stderr
    assert "trained" not in proc.stderr and not (work / "runs").exists()


@pytest.mark.slow
def test_images_over_the_pixel_limit_are_refused_and_the_limit_is_configurable(
    work: Path,
) -> None:
    for split in ("train", "test"):
        for side in ("A", "B"):
            folder = work / "data" / side / split
            folder.mkdir(parents=True)
            for i in range(2):
                Image.new("L", (64, 48), 100 + 20 * i).save(folder / f"s{i}.png")
    run = ("run", "--model", "identity", "--dataset", "paired-folder", "--dataset-arg",
           "root=data", "--image-size", "32", "--budget", "steps=1", "--metrics", "psnr",
           "--no-progress")  # fmt: skip
    refused = cli(*run, cwd=work, env={"MEDGANBENCH_MAX_IMAGE_SIDE": "50"})
    assert_one_message(refused)
    assert "64 × 48 pixels, over the limit of 50 a side" in refused.stderr
    assert "trained" not in refused.stderr
    accepted = cli(*run, cwd=work, env={"MEDGANBENCH_MAX_IMAGE_SIDE": "64"})
    assert accepted.returncode == 0, accepted.stderr
