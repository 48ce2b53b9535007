"""Every file-backed dataset, and the phantoms, serve the recorded fingerprint and tensors.

tests/data/golden_datasets.json holds, per dataset (and three ``phantom-brain`` configurations
and one ``phantom-brain-3d``), the fingerprint, the split sizes and the sum and sum of squares of
every split's A and B images and masks, built on the byte-for-byte reproducible trees of
tests/data/golden_trees.py at 32 px (the 3-D phantom: 32³ voxels).
Entries marked ``pre-toolkit implementation`` were recorded with the dataset code before the
data toolkit (commit 60593cd): those datasets kept their version because the toolkit serves the
same pixels and splits, and this test is the proof. The others changed version (their modules
say why) and are pinned to the toolkit's values; ``phantom-brain-3d`` is pinned to its version
1 as introduced (the 2-D phantom's renderer was generalised for it, and the 2-D entries prove
that changed none of their data). Sums are compared to 1e-6 relative, since a CPU's vector
width may change the last bit of a resized pixel; fingerprints and sizes exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from medganbench.core.dataset import Dataset, DatasetContext
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from tests.data.golden_trees import BUILDERS, build

GOLDEN: dict[str, Any] = json.loads((Path(__file__).parent / "golden_datasets.json").read_text())
TENSORS = ("a", "b", "mask_a", "mask_b")


def _build(case: str, registries: Registries, base: Path) -> Dataset:
    name, _, phantom_args = case.partition(" ")
    cache = base / "cache" / name
    if phantom_args:
        return registries.datasets.get(name).build(
            json.loads(phantom_args), DatasetContext(32, cache)
        )
    root = base / name
    args = build(name, root)
    in_cache = BUILDERS[name][1]
    ctx = DatasetContext(32, cache, data_dir=root if in_cache else None)
    return registries.datasets.get(name).build(args, ctx)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dataset]:
    registries = build_registries(make_plugin_manager(autoload=False))
    base = tmp_path_factory.mktemp("golden")
    return {case: _build(case, registries, base) for case in GOLDEN}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_fingerprint_is_the_recorded_one(case: str, built: dict[str, Dataset]) -> None:
    assert built[case].fingerprint() == GOLDEN[case]["fingerprint"]


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_splits_hold_the_recorded_tensors(case: str, built: dict[str, Dataset]) -> None:
    dataset = built[case]
    assert dataset.info.paired == GOLDEN[case]["paired"]
    for split, expected in GOLDEN[case]["splits"].items():
        items = dataset.split(split)
        assert len(items) == expected["n"], split  # type: ignore[arg-type]
        served = [items[i] for i in range(expected["n"])]
        for key in TENSORS:
            stacked = torch.stack([item[key] for item in served]).double()
            total, squares = float(stacked.sum()), float((stacked * stacked).sum())
            assert (total, squares) == pytest.approx(expected[key], rel=1e-6, abs=1e-6), (
                f"{split}.{key}"
            )
