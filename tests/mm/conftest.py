"""Fixtures for the mm tests: a small machine, an address space, a notifier recorder."""

from __future__ import annotations

import pathlib
import random
import sys
from collections.abc import Iterator

import pytest

from softgem.mm import Mm, PhysMem
from softgem.sync import lockdep

# The helpers module sits next to this file; make it importable however pytest was started.
sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mmtest import DeviceFile, Recorder


@pytest.fixture(autouse=True)
def validate_locking() -> Iterator[None]:
    """Every mm test runs under lockdep: an inverted lock order or a sleep under a spinlock
    fails the test that caused it."""
    lockdep.reset()
    lockdep.enable()
    yield
    found = lockdep.reports()
    lockdep.disable()
    lockdep.reset()
    assert not found, "\n\n".join(str(r) for r in found)


@pytest.fixture
def phys() -> PhysMem:
    return PhysMem(4096, rng=random.Random(7))


@pytest.fixture
def mm(phys: PhysMem) -> Mm:
    return Mm(phys, name="test", rng=random.Random(11))


@pytest.fixture
def rec(mm: Mm) -> Recorder:
    r = Recorder()
    mm.notifier_subscriptions = r
    return r


@pytest.fixture
def dev(phys: PhysMem) -> DeviceFile:
    return DeviceFile(phys, 8)
