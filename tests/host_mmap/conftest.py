"""The C client of tests/host_mmap, built against Debian's libdrm."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def mmap_client(build_c: Callable[[pathlib.Path], str]) -> str:
    return build_c(HERE / "mmap_client.c")
