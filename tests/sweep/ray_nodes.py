"""A real Ray cluster of several nodes (raylets) on this machine, for tests.

Nodes are started with ``ray start`` as a user would, each with a temporary directory and ports
of its own, so that the test neither meets nor disturbs another Ray instance on the machine.
A node's processes are recognised by what they inherit from its ``ray start``: an environment
variable naming the node (workers, which Ray retitles ``ray::<task>``), or the node's directory
as working directory (the agents, which get a fresh environment and a new title) or on the
command line (raylet, log monitor). The cluster is stopped by killing exactly those processes,
never with ``ray stop``, which would stop every Ray instance of the user.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The tree under test, put first on the PYTHONPATH of every node so that Ray workers import it.
TREE = Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on the loopback interface right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


#: The variable every process of a test node inherits, set to the node's name.
NODE_VAR = "MEDGANBENCH_TEST_RAY_NODE"


def processes_of(temp_dir: Path) -> dict[int, list[str]]:
    """Live processes (pid → command line) of the node whose directory is ``temp_dir``."""
    tag = f"{NODE_VAR}={temp_dir.name}".encode()
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            raw = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        ours = (
            tag in environ or cwd.startswith(str(temp_dir)) or any(str(temp_dir) in a for a in args)
        )
        if ours and state != "Z":
            found[int(entry.name)] = args
    return found


@dataclass
class RayNode:
    """One node (raylet) of a :class:`LocalCluster`."""

    temp_dir: Path
    node_id: str = ""

    def processes(self) -> dict[int, list[str]]:
        """Every live process of this node (raylet, agents, workers)."""
        return processes_of(self.temp_dir)

    def workers(self) -> dict[int, list[str]]:
        """The node's worker processes (Ray titles them ``ray::<task>`` or ``ray::IDLE``)."""
        return {p: a for p, a in self.processes().items() if a and a[0].startswith("ray::")}

    def raylet_pid(self) -> int:
        (pid,) = [p for p, args in self.processes().items() if args[0].endswith("/raylet")]
        return pid

    def kill_raylet(self) -> None:
        """What losing the node looks like to Ray: its raylet dies without a word."""
        os.kill(self.raylet_pid(), signal.SIGKILL)

    def kill_all(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                os.kill(pid, signal.SIGKILL)


@dataclass
class LocalCluster:
    """Ray nodes on this machine: a head, then nodes joining it.

    Attributes:
        env: the environment of the nodes, and the one a driver of this cluster should use.
        system_config: Ray system settings of the head (e.g. its health-check thresholds).
    """

    env: dict[str, str] = field(default_factory=dict)
    system_config: dict[str, object] = field(default_factory=dict)
    nodes: list[RayNode] = field(default_factory=list)
    address: str = ""

    def __post_init__(self) -> None:
        path = os.environ.get("PYTHONPATH", "")
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (str(TREE), path) if p),
            # A test cluster needs no token, and must not create one in ~/.ray.
            "RAY_AUTH_MODE": "disabled",
            "RAY_USAGE_STATS_ENABLED": "0",
            **self.env,
        }

    def add_node(self, cpus: int) -> RayNode:
        """Start the head (first call) or a node joining it, with ``cpus`` CPUs."""
        node = RayNode(Path(tempfile.mkdtemp(prefix="mgb-ray-", dir="/tmp")))
        self.nodes.append(node)
        ports = free_ports(8)
        args = [
            "ray",
            "start",
            f"--num-cpus={cpus}",
            "--num-gpus=0",
            f"--temp-dir={node.temp_dir}",
            f"--object-manager-port={ports[0]}",
            f"--node-manager-port={ports[1]}",
            f"--dashboard-agent-listen-port={ports[2]}",
            f"--dashboard-agent-grpc-port={ports[3]}",
            f"--runtime-env-agent-port={ports[4]}",
            f"--metrics-export-port={ports[5]}",
            # 0: workers bind ports the system picks, never one of another Ray's range.
            "--min-worker-port=0",
            "--max-worker-port=0",
            f"--object-store-memory={100 * 2**20}",
            "--disable-usage-stats",
        ]
        if not self.address:
            self.address = f"127.0.0.1:{ports[6]}"
            args += [
                "--head",
                f"--port={ports[6]}",
                f"--dashboard-port={ports[7]}",
                "--include-dashboard=false",
            ]
            if self.system_config:
                args.append(f"--system-config={json.dumps(self.system_config)}")
        else:
            args.append(f"--address={self.address}")
        env = {**self.env, NODE_VAR: node.temp_dir.name}
        started = subprocess.run(
            args, cwd=node.temp_dir, env=env, capture_output=True, text=True, check=False
        )
        assert started.returncode == 0, started.stdout + started.stderr
        (node.node_id,) = [
            a.split("=", 1)[1]
            for args in node.processes().values()
            if args[0].endswith("/raylet")
            for a in args
            if a.startswith("--node_id=")
        ]
        return node

    def stop(self) -> None:
        """Kill every process of every node (a few tries: a dying raylet may still spawn),
        then remove their directories."""
        for _ in range(20):
            alive = [n for n in self.nodes if n.processes()]
            if not alive:
                break
            for node in alive:
                node.kill_all()
            time.sleep(0.25)
        for node in self.nodes:
            shutil.rmtree(node.temp_dir, ignore_errors=True)
