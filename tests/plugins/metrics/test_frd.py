"""FRD: the message without the radiomics extra, and agreement with frd-score's command line.

The metric calls frd-score's own ``compute_frd``; what could go wrong on our side is how the
images reach it (quantisation, file format, which set is the reference) and how the value is
read back. So the comparison is with ``frd-score REAL GENERATED`` run as a separate process on
PNG folders written here from the same uint8 arrays. It needs the extra, so it is skipped
without it (the CI installs only ``.[test]``; see docs/metrics.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.core.params import resolve_args
from medganbench.defaults import medganbench_home
from medganbench.errors import UsageError
from medganbench_plugins.metrics.frd import FRD, INSTALL, write_pngs
from medganbench_plugins.metrics.inception import quantise


def test_without_the_extra_frd_stops_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "frd_score", None)  # import fails as if not installed
    with pytest.raises(UsageError) as caught:
        FRD({}, MetricContext())
    assert "radiomics extra" in caught.value.message and INSTALL in (caught.value.hint or "")


FEW = {"train_subjects": "2", "val_subjects": "2", "test_subjects": "2", "slices_per_subject": "2"}


def _phantom_ct(registries) -> tuple[torch.Tensor, tuple[float, float]]:
    """The phantom's CT slices of the training split (4 slices, 32 px) and the CT window."""
    spec = registries.datasets.get("phantom-brain")
    args = resolve_args(spec.params, FEW, "phantom-brain")
    data = spec.build(args, DatasetContext(32, medganbench_home() / "datasets" / "phantom-brain"))
    split = data.split("train")
    window = data.info.b.window
    return torch.stack([split[i]["b"] for i in range(len(split))]), window


@pytest.mark.slow
def test_frd_agrees_with_the_frd_score_command_line_on_the_phantom(
    registries, tmp_path: Path
) -> None:
    pytest.importorskip("frd_score", reason=f"the radiomics extra is not installed ({INSTALL})")
    pytest.importorskip("radiomics", reason=f"the radiomics extra is not installed ({INSTALL})")
    real, window = _phantom_ct(registries)
    noise = torch.randn(real.shape, generator=torch.Generator().manual_seed(0))
    generated = real.flip(-1) + 100.0 * noise
    metric = FRD({}, MetricContext())
    mask = torch.ones(real.shape[0], 1, 32, 32, dtype=torch.bool)
    metric.update(EvalBatch(generated, real, mask, window, paired=False, domain="b"))
    ours = metric.compute()
    write_pngs(quantise(real, window), tmp_path / "real")
    write_pngs(quantise(generated, window), tmp_path / "generated")
    done = subprocess.run(
        [sys.executable, "-m", "frd_score", str(tmp_path / "real"), str(tmp_path / "generated")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    cli = float(re.findall(r"FRD \(v1\): (\S+)", done.stdout)[-1])
    print(f"FRD v1 on the phantom: ours {ours!r}, frd-score command line {cli!r}")
    assert ours == pytest.approx(cli, rel=1e-9, abs=1e-9)
    assert metric.report().details["log"] == "log(d^2)" and metric.report().details["n_real"] == 4
