"""The C clients of tests/host_core, built against Debian's libdrm."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def userptr_client(build_c: Callable[[pathlib.Path], str]) -> str:
    return build_c(HERE / "userptr_client.c")


@pytest.fixture(scope="session")
def fd_identity_client(build_c: Callable[[pathlib.Path], str]) -> str:
    return build_c(HERE / "fd_identity_client.c")
