"""Reaching a Ray cluster (or starting Ray here) within seconds, with one message per failure.

Left to itself, ``ray.init(address=...)`` is slow to fail and says little: against an address
where nothing listens it retries for minutes; against a cluster with token authentication it
prints an ``InvalidAuthToken`` line a second for 20 s and then raises "Failed to connect". So
:func:`connect` first probes the address over TCP (a wrong address fails in under a second),
shortens Ray's own retry window, captures what Ray prints while it tries, and turns the
exception and those lines into one :class:`~medganbench.errors.UsageError` naming the likely
cause: the address, authentication (with the variables Ray reads), or a version mismatch.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from medganbench.errors import UsageError
from medganbench.sweep.capture import CapturedOutput

#: Seconds the TCP probe of HOST:PORT waits for an answer.
PROBE_S = 3.0
#: Attempts (about a second apart) Ray makes to reach the cluster's GCS before it gives up.
#: Ray's default of 20 is meant for a GCS that is still starting; a sweep's user is waiting.
GCS_ATTEMPTS = 5
#: Ray's variable for the number of those attempts (read when ray.init connects).
GCS_ATTEMPTS_VAR = "RAY_gcs_server_port_wait_time_s"
#: Object store of a Ray instance started here: trials return kilobytes (rows, small PNGs), so
#: Ray's default of 30% of RAM would only take memory from the trials.
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20

AUTH_HINT = (
    "Give this process the cluster's token: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN=<token> "
    "(or RAY_AUTH_TOKEN_PATH=<file holding it>; the default file is ~/.ray/auth_token). "
    "`ray get-auth-token` on the head node prints it."
)
ADDRESS_HINT = (
    "Give the head node's GCS address as --address HOST:PORT (`ray start --head` prints it; "
    "the port is 6379 unless --port was given), or --address auto on a node of the cluster, "
    "or leave --address out to run on a Ray instance on this machine."
)


def connect(ray: Any, address: str, num_cpus: int | None) -> None:
    """Join the cluster at ``address``, or start Ray on this machine if it is empty.

    What Ray prints while connecting is captured; on success it is passed on to this
    process's standard error (which a sweep sends to its log).

    Raises:
        UsageError: the cluster cannot be reached or joined, with the likely cause.
    """
    if address:
        probe(address)
    with CapturedOutput() as captured, _gcs_attempts(GCS_ATTEMPTS if address else None):
        try:
            if address:
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="ERROR",
                )
            else:
                ray.init(
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="ERROR",
                    object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                )
        except Exception as exc:  # noqa: BLE001 - any failure to connect is the cluster's
            _shutdown_quietly(ray)
            raise diagnose(address, exc, captured.text()) from None
        said = captured.text()
    if said:
        sys.stderr.write(said)


def probe(address: str) -> None:
    """Fail fast when nothing answers at a ``HOST:PORT`` address (other forms pass).

    Raises:
        UsageError: the host is unknown, refuses the port, or does not answer in time.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S).close()
    except socket.gaierror:
        reason = f"the host {host!r} is unknown"
    except ConnectionRefusedError:
        reason = f"nothing listens on port {port} of {host}"
    except TimeoutError:
        reason = f"{host} did not answer on port {port} within {PROBE_S:.0f} s"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        return
    raise UsageError(f"Could not reach the Ray cluster at {address!r}: {reason}.", ADDRESS_HINT)


def diagnose(address: str, exc: BaseException, said: str) -> UsageError:
    """One message for a failed ``ray.init``, from its exception and what Ray printed."""
    where = f"the Ray cluster at {address!r}" if address else "a Ray instance on this machine"
    text = f"{type(exc).__name__}: {exc}\n{said}"
    if re.search(r"InvalidAuthToken|Unauthenticated|authentication token", text, re.IGNORECASE):
        return UsageError(
            f"Could not join {where}: it uses Ray's token authentication and this process "
            "has no token, or not its token.",
            AUTH_HINT,
        )
    versions = re.search(
        r"cluster was started with:\s*Ray: (\S+)\s*Python: (\S+).*?"
        r"was started with:\s*Ray: (\S+)\s*Python: (\S+)",
        text,
        re.DOTALL,
    )
    if versions:
        cluster_ray, cluster_py, here_ray, here_py = versions.groups()
        return UsageError(
            f"Could not join {where}: it runs Ray {cluster_ray} on Python {cluster_py}, this "
            f"process Ray {here_ray} on Python {here_py}; Ray requires the same versions.",
            f"Install Ray {cluster_ray} on Python {cluster_py} here (with medganbench), or "
            "run the sweep from a node of the cluster.",
        )
    if "Could not find any running Ray instance" in text:
        return UsageError(
            "No running Ray cluster was found on this machine for --address auto.",
            "Start one with `ray start --head`, give its address as --address HOST:PORT, or "
            "leave --address out to run on a Ray instance on this machine.",
        )
    first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return UsageError(f"Could not start or reach {where}: {first.strip()}", ADDRESS_HINT)


@contextmanager
def _gcs_attempts(attempts: int | None) -> Iterator[None]:
    """Ray's GCS connection attempts set to ``attempts`` for the block, unless the user set
    them (an operator's value wins) or ``attempts`` is None."""
    if attempts is None or GCS_ATTEMPTS_VAR in os.environ:
        yield
        return
    os.environ[GCS_ATTEMPTS_VAR] = str(attempts)
    try:
        yield
    finally:
        os.environ.pop(GCS_ATTEMPTS_VAR, None)


def _shutdown_quietly(ray: Any) -> None:
    """Undo a half-made connection, so this process can try again."""
    with contextlib.suppress(Exception):  # nothing more to undo
        ray.shutdown()
