"""The shapes of names that become parts of paths: component names, run ids, file stems.

Every path medganbench builds from a value it did not choose itself — a leaderboard row's run
id or dataset, a sweep's name, a run directory — goes through one of these checks first, so no
value can lead a read or a write outside the folder the user named (``../``, an absolute path, a
NUL or a newline never pass).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: Registered component names: lower case, digits and hyphens, starting with a letter.
COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,99}$")
#: A run id: the first 16 hex digits of a sha256.
RUN_ID = re.compile(r"^[0-9a-f]{16}$")
#: A file stem chosen by a user (a sweep's name): letters, digits, ``.``, ``_`` and ``-``,
#: starting with a letter or digit.
FILE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def is_component_name(value: object) -> bool:
    """Whether ``value`` is a possible registered component name."""
    return isinstance(value, str) and COMPONENT_NAME.fullmatch(value) is not None


def is_run_id(value: object) -> bool:
    """Whether ``value`` is shaped like a run id."""
    return isinstance(value, str) and RUN_ID.fullmatch(value) is not None


def is_file_stem(value: object) -> bool:
    """Whether ``value`` is a safe file stem (see :data:`FILE_STEM`)."""
    return isinstance(value, str) and FILE_STEM.fullmatch(value) is not None


def contained(root: Path, path: Path) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``root`` (symlinks resolved); a symlink
    loop lies nowhere."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a loop, before Python 3.13
        return False
    return True


def leads_outside(root: Path, folder: Path) -> bool:
    """Whether writing into ``folder``, a folder inside ``root`` that may not exist yet, would
    write elsewhere: it (or a link on its way) resolves outside ``root``, or to ``root`` itself.

    A folder under a planted symlink (``runs/<predictable run id>`` → ``/elsewhere``) is how
    writes are redirected; ``root`` itself may be a link (a shared runs folder), as it was named.
    """
    if not os.path.lexists(folder):
        return False
    if not contained(root, folder):
        return True
    try:
        return folder.resolve() == root.resolve()
    except (OSError, RuntimeError):
        return True
