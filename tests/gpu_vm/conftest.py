"""Fixtures for the address-space, binding and context tests (``softgem.gpu`` helper A).

``gpu_env`` is one device with its GPU attached, one DRM file, one user address space and a
leak check at the end: after the file is released no object, binding, frame or pin is left.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpu_vm_env import GpuVmEnv


@pytest.fixture
def gpu_env() -> Iterator[GpuVmEnv]:
    env = GpuVmEnv()
    yield env
    env.teardown()
