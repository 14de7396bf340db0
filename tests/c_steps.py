"""The C clients' steps (tests/host_*/*.c) and their mirror in the simulated machine.

A client writes one ``step=value`` line per step (:func:`read_steps`); the scenario that
plays the same steps in the simulated machine gets a C ``ret(ioctl(...))`` from
:func:`ioctl_ret`.

Importable from any test: pytest puts tests/ on sys.path for tests/conftest.py (rootdir
conftest, default "prepend" import mode)."""

from __future__ import annotations

import errno
import os
import pathlib
from typing import Any


def read_steps(path: str | os.PathLike[str]) -> dict[str, int]:
    """Every step's value by name, in the order the client wrote them."""
    steps = {}
    for line in pathlib.Path(path).read_text().splitlines():
        key, _, value = line.partition("=")
        steps[key] = int(value)
    return steps


def ioctl_ret(p: Any, fd: int, request: int, arg: object) -> int:
    """``p.ioctl(fd, request, arg)`` as the C clients report it: 0, or -errno."""
    try:
        p.ioctl(fd, request, arg)
        return 0
    except OSError as e:
        return -(e.errno or errno.EIO)
