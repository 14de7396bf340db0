"""Fixtures for the execbuf tests: a machine with its GPU, one process with the i915 open.

The IGT-style helpers live in ``tests/scenarios/gpuscene.py``; this directory shares them.
Every test ends with every process exited and every leak counter at zero.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import softgem
import softgem.gpu

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scenarios"))

from gpuscene import Gem


@pytest.fixture
def machine() -> Iterator[softgem.Machine]:
    m = softgem.Machine(memory=64 << 20)
    gpu = softgem.gpu.attach(m.device)
    gpu.hang_timeout = 0.5
    yield m
    m.shutdown()
    leaks = m.counters().leaks()          # exact at once: exit waited for the GPU work
    quiesce(gpu)
    assert leaks == {}


def quiesce(gpu: softgem.gpu.Gpu) -> None:
    """Stop every engine's kernel thread (they are made again on the next submit) and reap,
    so no machine's threads outlive its test."""
    for engine in list(gpu.engines.values()):
        engine.fini()
    gpu.reap(wait=True)


@pytest.fixture
def gem(machine: softgem.Machine) -> Gem:
    return Gem(machine.spawn("test"))
