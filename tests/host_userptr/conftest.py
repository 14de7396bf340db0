"""Builds userptr_live.c against Debian's libdrm (scripts/setup installs gcc, pkg-config and
libdrm-dev; a missing one fails the tests with that instruction)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

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
def userptr_live(tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        pytest.fail("gcc and pkg-config are needed: run scripts/setup")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libdrm"], capture_output=True,
                           text=True)
    if flags.returncode != 0:
        pytest.fail("libdrm-dev is missing: run scripts/setup")
    out = tmp_path_factory.mktemp("host-userptr")
    exe = out / "userptr_live"
    subprocess.run(["gcc", "-O2", "-Wall", "-pthread", "-o", str(exe),
                    str(HERE / "userptr_live.c"), *flags.stdout.split()], check=True)
    os.chmod(out, 0o755)
    return str(exe)
