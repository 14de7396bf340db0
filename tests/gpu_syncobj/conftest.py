"""Fixtures for the sync object tests: a machine with its GPU and one process with the i915
open (the IGT-style helpers are tests/scenarios/gpuscene.py and syncobjs.py here)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import softgem
import softgem.gpu

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scenarios"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpuscene import Gem


@pytest.fixture
def machine() -> Iterator[softgem.Machine]:
    m = softgem.Machine(memory=32 << 20)
    gpu = softgem.gpu.attach(m.device)
    gpu.hang_timeout = 0.5
    yield m
    m.shutdown()
    leaks = m.counters().leaks()
    for engine in list(gpu.engines.values()):
        engine.fini()
    gpu.reap(wait=True)
    assert leaks == {}


@pytest.fixture
def gem(machine: softgem.Machine) -> Gem:
    return Gem(machine.spawn("test"))
