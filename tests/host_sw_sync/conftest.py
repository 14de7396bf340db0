"""Builds tests/host_sw_sync/sw_sync_client.c against Debian's libdrm (scripts/setup installs
gcc, pkg-config and libdrm-dev; a missing one fails the tests with that instruction)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def sw_sync_client(build_c: Callable[[pathlib.Path], str]) -> str:
    return build_c(HERE / "sw_sync_client.c")
