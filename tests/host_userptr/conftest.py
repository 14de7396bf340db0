"""Builds userptr_live.c against Debian's libdrm (scripts/setup installs gcc, pkg-config and
libdrm-dev; a missing one fails the tests with that instruction)."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--userptr-race-iterations", type=int, default=100,
                     help="iterations of the validation-against-munmap race (userptr_live.c)")


@pytest.fixture(scope="session")
def race_iterations(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("--userptr-race-iterations"))


@pytest.fixture(scope="session")
def userptr_live(build_c: Callable[[pathlib.Path], str]) -> str:
    return build_c(HERE / "userptr_live.c")
