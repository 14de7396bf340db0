"""FLINK and OPEN: global names, their lifetime, and handles opened through them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from softgem.errors import ENOENT
from softgem.gem.create import gem_create
from softgem.gem.device import GemDevice
from softgem.gem.file import DrmFile
from softgem.gem.flink import flink, gem_open
from softgem.mm import PhysMem
from softgem.units import PAGE_SIZE


@pytest.fixture
def dev() -> Iterator[GemDevice]:
    dev = GemDevice(PhysMem(16))
    yield dev
    assert not any(dev.counters().values()), dev.counters()


@pytest.fixture
def files(dev: GemDevice) -> Iterator[tuple[DrmFile, DrmFile]]:
    a, b = dev.open(0), dev.open(0)
    yield a, b
    a.release()
    b.release()


def test_flink_of_a_bad_handle_is_enoent(dev: GemDevice,
                                         files: tuple[DrmFile, DrmFile]) -> None:
    with pytest.raises(ENOENT):
        flink(dev, files[0], 1)


def test_names_start_at_1_and_an_object_keeps_its_name(
        dev: GemDevice, files: tuple[DrmFile, DrmFile]) -> None:
    a, _ = files
    h1, _ = gem_create(dev, a, PAGE_SIZE)
    h2, _ = gem_create(dev, a, PAGE_SIZE)
    assert flink(dev, a, h2) == 1
    assert flink(dev, a, h1) == 2
    assert flink(dev, a, h2) == 1


@pytest.mark.parametrize("name", [0, 2, 1 << 31, 0xFFFFFFFF])
def test_open_of_a_name_nobody_holds_is_enoent(dev: GemDevice,
                                               files: tuple[DrmFile, DrmFile],
                                               name: int) -> None:
    a, b = files
    flink(dev, a, gem_create(dev, a, PAGE_SIZE)[0])      # name 1 exists
    with pytest.raises(ENOENT):
        gem_open(dev, b, name)


def test_open_gives_another_file_a_handle_to_the_same_object(
        dev: GemDevice, files: tuple[DrmFile, DrmFile]) -> None:
    a, b = files
    ha, _ = gem_create(dev, a, 3 * PAGE_SIZE)
    name = flink(dev, a, ha)
    hb, size = gem_open(dev, b, name)
    assert size == 3 * PAGE_SIZE
    oa, ob = a.lookup(ha), b.lookup(hb)
    assert oa is ob and oa.handle_count == 2
    oa.put()
    ob.put()
    assert gem_open(dev, b, name)[0] != hb          # every open is a new handle


def test_the_name_goes_with_the_last_handle_and_the_object_with_it(
        dev: GemDevice, files: tuple[DrmFile, DrmFile]) -> None:
    a, b = files
    ha, _ = gem_create(dev, a, PAGE_SIZE)
    name = flink(dev, a, ha)
    hb, _ = gem_open(dev, b, name)
    a.handle_delete(ha)
    assert gem_open(dev, a, name)[0] == ha          # b's handle keeps the name alive
    a.handle_delete(ha)
    b.handle_delete(hb)
    assert dev.counters()["objects"] == 0
    with pytest.raises(ENOENT):
        gem_open(dev, a, name)
    h, _ = gem_create(dev, a, PAGE_SIZE)
    assert flink(dev, a, h) == name                 # names are reused lowest first
