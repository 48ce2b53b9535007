"""CPU-bound processes that compete with a benchmark for the cores, as other jobs do on a shared
machine; they are always stopped, and stop themselves if the process that started them dies."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: One single-threaded busy loop; it ends when its parent does (it is reparented then).
BUSY_LOOP = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"

#: One process of two threads: numpy matrix products on two OpenBLAS threads, as a
#: multi-threaded job of someone else's would run; it ends when its parent does.
MATMUL_LOOP = (
    "import os\nimport numpy as np\nparent = os.getppid()\n"
    "a = np.random.default_rng(0).random((768, 768))\n"
    "while os.getppid() == parent:\n    a @ a\n"
)

#: Seconds the competitors get to start before the measurement begins.
SETTLE_S = 1.0


@contextmanager
def competing(
    count: int, kind: str = "loop", *, own_session: bool = False
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` competing processes for the duration of the block: single-threaded busy loops
    (``kind="loop"``) or two-thread numpy matrix products (``kind="matmul"``).

    ``own_session``: start each in a session of its own, as another user's job or a job started
    from another terminal is. Where Linux's autogroup scheduling is on (the default of desktop
    and server kernels; ``/proc/sys/kernel/sched_autogroup_enabled``), the CPU is then shared
    between sessions first and between their threads second; in the caller's session, every
    runnable thread gets an equal share (as jobs of one CI script do)."""
    code = {"loop": BUSY_LOOP, "matmul": MATMUL_LOOP}[kind]
    env = {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"} if kind == "matmul" else {}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", code],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    env={**os.environ, **env},
                    start_new_session=own_session,
                )
            )
        if procs:
            time.sleep(SETTLE_S)
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
