"""Fixtures for the command streamer / engine tests.

``gpux`` is a :class:`gpu_exec_env.GpuExecEnv`: a GPU with engines and one PPGTT.  At the end
of the test the engines must go idle, their threads stop (re-raising anything an engine
thread raised) and every object, pin and frame must be gone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpu_exec_env import GpuExecEnv


@pytest.fixture
def gpux() -> Iterator[GpuExecEnv]:
    env = GpuExecEnv()
    yield env
    env.teardown()
