"""The C clients' output: one ``step=value`` line per step (tests/host_*/*.c).

Importable from any test: pytest puts tests/ on sys.path for tests/conftest.py (rootdir
conftest, default "prepend" import mode)."""

from __future__ import annotations

import os
import pathlib


def read_steps(path: str | os.PathLike[str]) -> dict[str, int]:
    """Every step's value by name, in the order the client wrote them."""
    steps = {}
    for line in pathlib.Path(path).read_text().splitlines():
        key, _, value = line.partition("=")
        steps[key] = int(value)
    return steps
