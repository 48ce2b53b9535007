"""Connection problems with a Ray cluster: one message naming the likely cause, within seconds,
and nothing written before the cluster is reached."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medganbench.errors import UsageError
from medganbench_plugins.executors.ray_cluster import RayExecutor
from medganbench_plugins.executors.ray_connect import diagnose
from tests.sweep.ray_nodes import LocalCluster, free_ports

SWEEP = """
name = "unreachable"
budget = "steps=2"
image_size = 32
metrics = ["psnr"]
seeds = [0]
datasets = ["phantom-brain"]
models = ["identity"]
"""
ARGS = {"address": "", "num_cpus": 0, "cpus_per_trial": 1, "gpus_per_trial": 0}


def _sweep_cli(
    tmp_path: Path, address: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "unreachable.toml").write_text(SWEEP)
    command = [sys.executable, "-m", "medganbench", "sweep", "unreachable.toml"]
    command += ["--executor", "ray", "--address", address, "--no-progress"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)


def test_an_address_where_nothing_listens_fails_within_seconds() -> None:
    (port,) = free_ports(1)
    executor = RayExecutor({**ARGS, "address": f"127.0.0.1:{port}"})
    start = time.monotonic()
    with pytest.raises(UsageError, match=f"nothing listens on port {port}") as raised:
        executor.open()
    assert time.monotonic() - start < 3
    assert raised.value.hint is not None and "--address HOST:PORT" in raised.value.hint


@pytest.mark.slow
def test_a_failed_connection_is_one_message_and_writes_nothing(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    proc = _sweep_cli(tmp_path, f"127.0.0.1:{port}", dict(os.environ))
    assert proc.returncode == UsageError.exit_code
    assert proc.stderr.startswith(f"error: Could not reach the Ray cluster at '127.0.0.1:{port}'")
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unreachable.toml"]


@pytest.mark.slow
def test_a_cluster_with_token_authentication_names_the_variables(tmp_path: Path) -> None:
    cluster = LocalCluster(env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "mgb-" + "7" * 32})
    try:
        cluster.add_node(cpus=1)
        driver_env = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
        start = time.monotonic()
        proc = _sweep_cli(tmp_path, cluster.address, driver_env)
        elapsed = time.monotonic() - start
    finally:
        cluster.stop()
    assert proc.returncode == UsageError.exit_code, proc.stderr
    assert "token authentication" in proc.stderr
    assert "RAY_AUTH_MODE=token" in proc.stderr and "RAY_AUTH_TOKEN" in proc.stderr
    assert "InvalidAuthToken" not in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 30  # Ray alone prints an InvalidAuthToken line a second for 20 s
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unreachable.toml"]


def test_a_version_mismatch_names_both_versions() -> None:
    from ray._private.utils import check_version_info  # the message Ray raises, verbatim

    with pytest.raises(RuntimeError) as raised:
        check_version_info({"ray_version": "2.9.3", "python_version": "3.10.12"}, "this node")
    error = diagnose("head:6379", raised.value, "")
    import ray

    here = f"Ray {ray.__version__} on Python {sys.version.split()[0]}"
    assert "it runs Ray 2.9.3 on Python 3.10.12, this process " + here in error.message
    assert error.hint is not None and "Install Ray 2.9.3" in error.hint
