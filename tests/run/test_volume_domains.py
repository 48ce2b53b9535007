"""Per-domain volume keys: an unpaired volume dataset gets per-patient rows for its round trips,
each compared domain per its own patients; a dataset whose ``volume_ids`` takes no domain still
works where it is paired, and only there."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import Dataset as TorchDataset

from medganbench.core.dataset import SPLITS, Dataset, DatasetContext, DatasetInfo, DomainInfo
from medganbench.core.hookspecs import hookimpl
from medganbench.core.manager import Registries, build_registries, make_plugin_manager
from medganbench.core.specs import DatasetSpec
from medganbench.core.volumes import (
    SLICE_KEY,
    VOLUME_KEY,
    item_position,
    slice_key,
    split_volume_ids,
    volume_key,
)
from medganbench.errors import DataError, UsageError
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.directions import compared_domain
from medganbench.run.options import RunOptions
from medganbench.run.runner import execute_run
from medganbench.run.spec import RunSpec
from medganbench.run.volumes import VolumeCollector, volume_collector

DOMAIN = DomainInfo("square", "MR", "a.u.", (0.0, 1.0))
SIZE = 32
#: A's patients have 3 slices each, B's 2 each: every item pairs an A slice with a B slice of
#: another patient (unpaired), six items per split.
A_PATIENTS = ("a-p0", "a-p1")
B_PATIENTS = ("b-p0", "b-p1", "b-p2")
TINY_CYCLE = {"ngf": "8", "ndf": "8", "n_blocks": "1"}


def _image(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, SIZE, SIZE, generator=g) * 0.8 + 0.1
    mask = torch.zeros(1, SIZE, SIZE, dtype=torch.bool)
    mask[:, 4:-4, 4:-4] = True
    return image * mask, mask


class UnpairedVolumes(Dataset):
    """Unpaired items carrying each domain's patient and slice under its own keys."""

    def __init__(self, args: Mapping[str, Any], ctx: DatasetContext) -> None:
        self.info = DatasetInfo(DOMAIN, DOMAIN, False, SPLITS, ctx.image_size)
        self.items = []
        for i in range(6):
            a, mask_a = _image(i)
            b, mask_b = _image(100 + i)
            self.items.append(
                {
                    "a": a, "b": b, "mask_a": mask_a, "mask_b": mask_b,
                    volume_key("a"): torch.tensor(i // 3), slice_key("a"): torch.tensor(i % 3),
                    volume_key("b"): torch.tensor(i % 3), slice_key("b"): torch.tensor(i // 3),
                }
            )  # fmt: skip

    def split(self, name: str) -> TorchDataset[dict[str, torch.Tensor]]:
        if name not in SPLITS:
            raise UsageError(f"no split {name!r}")
        return self.items  # type: ignore[return-value]

    def fingerprint(self) -> str:
        return "0" * 16

    def volume_ids(self, split: str, domain: str = "b") -> list[str]:
        self.split(split)
        return list(A_PATIENTS if domain == "a" else B_PATIENTS)


class LegacyUnpairedVolumes(UnpairedVolumes):
    """The same items, from a dataset written before ``volume_ids`` took a domain."""

    def volume_ids(self, split: str) -> list[str]:  # type: ignore[override]
        return list(B_PATIENTS)


class LegacyPaired(UnpairedVolumes):
    """Paired items with the shared keys only and a one-argument ``volume_ids``."""

    def __init__(self, args: Mapping[str, Any], ctx: DatasetContext) -> None:
        super().__init__(args, ctx)
        self.info = DatasetInfo(DOMAIN, DOMAIN, True, SPLITS, ctx.image_size)
        for i, item in enumerate(self.items):
            for domain in "ab":
                del item[volume_key(domain)], item[slice_key(domain)]  # type: ignore[arg-type]
            item["b"], item["mask_b"] = item["a"], item["mask_a"]
            item[VOLUME_KEY], item[SLICE_KEY] = torch.tensor(i // 3), torch.tensor(i % 3)

    def volume_ids(self, split: str) -> list[str]:  # type: ignore[override]
        return list(A_PATIENTS)


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec("test-unpaired-volumes", "a test", "1", UnpairedVolumes, paired=False),
        DatasetSpec("test-legacy-unpaired", "a test", "1", LegacyUnpairedVolumes, paired=False),
        DatasetSpec("test-legacy-paired", "a test", "1", LegacyPaired, paired=True),
    ]


@pytest.fixture
def with_volumes() -> Registries:
    """The built-ins and this module's datasets."""
    return build_registries(make_plugin_manager(autoload=False, extra=(sys.modules[__name__],)))


def _run(registries: Registries, tmp: Path, **spec: Any):  # type: ignore[no-untyped-def]
    options = RunOptions(leaderboard_dir=tmp / "boards", runs_dir=tmp / "runs", progress=False)
    base: dict[str, Any] = {"image_size": SIZE, "budget": Budget(steps=1)}
    return execute_run(RunSpec(**{**base, **spec}), registries, options)


# ------------------------------------------------------------------------------ the contract


def test_an_items_own_keys_come_before_the_shared_ones() -> None:
    own = {volume_key("a"): torch.tensor([1]), slice_key("a"): torch.tensor([2])}
    shared = {VOLUME_KEY: torch.tensor([5]), SLICE_KEY: torch.tensor([6])}
    assert (volume_key("b"), slice_key("b")) == ("volume_b", "slice_b")
    assert item_position({**own, **shared}, "a") == (own["volume_a"], own["slice_a"])
    assert item_position({**own, **shared}, "b") == (shared["volume"], shared["slice"])
    assert item_position(own, "b") is None


def test_volume_ids_of_a_domain_and_of_a_legacy_dataset(tmp_path: Path) -> None:
    ctx = DatasetContext(SIZE, tmp_path)
    current = UnpairedVolumes({}, ctx)
    assert split_volume_ids(current, "test", "a", paired=False) == list(A_PATIENTS)
    assert split_volume_ids(current, "test", "b", paired=False) == list(B_PATIENTS)
    legacy = LegacyUnpairedVolumes({}, ctx)
    # A one-argument volume_ids can only mean the shared ids: used for paired data alone.
    assert split_volume_ids(legacy, "test", "a", paired=False) == []
    assert split_volume_ids(legacy, "test", "a", paired=True) == list(B_PATIENTS)


def test_a_round_trip_collector_reads_the_compared_domains_keys(
    registries: Registries, tmp_path: Path
) -> None:
    dataset = UnpairedVolumes({}, DatasetContext(SIZE, tmp_path))
    mae = {"mae": registries.metrics.get("mae").build({})}
    assert compared_domain("a2b2a") == "a" and compared_domain("b2a2b") == "b"
    collector = volume_collector(dataset, "test", mae, (0.0, 1.0), True, "a")
    assert isinstance(collector, VolumeCollector) and collector.ids == list(A_PATIENTS)
    # A one-way translation on unpaired data has no pixel-wise counterpart.
    assert volume_collector(dataset, "test", mae, (0.0, 1.0), False, "b") is None
    batch = {k: torch.stack([it[k] for it in dataset.items]) for k in dataset.items[0]}
    collector.add(batch, batch["a"], batch["a"], batch["mask_a"])
    value, report = collector.scores()["mae"]
    assert value == 0.0 and report.details["patients"] == {"a-p0": 0.0, "a-p1": 0.0}
    with pytest.raises(DataError, match="'volume_a' and 'slice_a'"):
        collector.add({"a": batch["a"]}, batch["a"], batch["a"], batch["mask_a"])


# -------------------------------------------------------------------------- through the runner


@pytest.mark.slow
def test_round_trips_on_unpaired_volumes_are_scored_per_patient_of_their_domain(
    with_volumes: Registries, tmp_path: Path
) -> None:
    result = _run(
        with_volumes,
        tmp_path,
        model="cyclegan",
        model_args=TINY_CYCLE,
        dataset="test-unpaired-volumes",
        metrics=("psnr", "mae"),
    )
    rows = read_leaderboard(result.leaderboard).to_pylist()
    volume = {(r["direction"], r["metric"]): r for r in rows if r["eval_unit"] == "volume"}
    # Only the round trips compare pixel-wise on unpaired data; each gets its volume rows.
    assert set(volume) == {(d, m) for d in ("a2b2a", "b2a2b") for m in ("psnr", "mae")}
    slices = {(r["direction"], r["metric"]) for r in rows if r["eval_unit"] == "slice"}
    assert slices == set(volume)
    a2b2a = json.loads(volume["a2b2a", "psnr"]["metric_details"])
    assert set(a2b2a["patients"]) == set(A_PATIENTS) and a2b2a["n_patients"] == 2
    assert volume["a2b2a", "psnr"]["value"] == pytest.approx(sum(a2b2a["patients"].values()) / 2)
    b2a2b = json.loads(volume["b2a2b", "mae"]["metric_details"])
    assert set(b2a2b["patients"]) == set(B_PATIENTS) and b2a2b["slices"] == 6
    assert {r["eval_grid"] for r in rows} == {"image_size"}


@pytest.mark.slow
def test_a_legacy_volume_ids_is_not_used_for_unpaired_data(
    with_volumes: Registries, tmp_path: Path
) -> None:
    result = _run(
        with_volumes,
        tmp_path,
        model="cyclegan",
        model_args=TINY_CYCLE,
        dataset="test-legacy-unpaired",
        metrics=("psnr",),
    )
    assert {r.eval_unit for r in result.rows} == {"slice"}


def test_a_legacy_paired_dataset_is_scored_per_patient(
    with_volumes: Registries, tmp_path: Path
) -> None:
    result = _run(with_volumes, tmp_path, model="identity", dataset="test-legacy-paired")
    volume = [r for r in result.rows if r.eval_unit == "volume"]
    assert {r.metric for r in volume} == {"psnr", "ssim", "mae"}
    assert set(json.loads(volume[0].metric_details)["patients"]) == set(A_PATIENTS)
