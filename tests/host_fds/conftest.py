"""Builds tests/host_fds/fds_client.c against Debian's libdrm (scripts/setup installs gcc,
pkg-config and libdrm-dev; a missing one fails the tests with that instruction)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def fds_client(tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        pytest.fail("gcc and pkg-config are needed: run scripts/setup")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libdrm"], capture_output=True,
                           text=True)
    if flags.returncode != 0:
        pytest.fail("libdrm-dev is missing: run scripts/setup")
    out = tmp_path_factory.mktemp("host-fds")
    exe = out / "fds_client"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(exe), str(HERE / "fds_client.c"),
                    *flags.stdout.split()], check=True)
    os.chmod(out, 0o755)
    return str(exe)
