"""Fixtures for the mm tests: a small machine, an address space, a notifier recorder."""

from __future__ import annotations

import random

import pytest
from mmtest import DeviceFile, Recorder

from softgem.mm import Mm, PhysMem


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
