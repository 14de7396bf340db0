"""Builds the libdrm discovery client (scripts/setup installs gcc, pkg-config, libdrm-dev)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def drm_device_client(build_c: Callable[[pathlib.Path], str]) -> str:
    return build_c(HERE / "drm_device_client.c")
