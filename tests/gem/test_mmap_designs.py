"""The mmap_offset design seam: Machine/GemDevice(mmap_design=NAME), and what mmap-v1 (the
2019 series as first posted) does differently from the merged design at the uAPI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gemtest import GemEnv

from softgem import Machine
from softgem.errors import EACCES, EINVAL, SimBug
from softgem.gem import MmapDesign, make_mmap_design, mman, mmap_design_names
from softgem.gem.flink import flink, gem_open
from softgem.gem.mman import I915_MMAP_TYPE_GTT as GTT
from softgem.gem.mman import I915_MMAP_TYPE_WB as WB
from softgem.gem.mmap_designs.v1 import MmoList, MmoV1
from softgem.units import PAGE_SIZE


@pytest.fixture
def v1() -> Iterator[GemEnv]:
    env = GemEnv(mmap_design="mmap-v1")
    yield env
    env.teardown()


def _obj(env: GemEnv, handle: int) -> object:
    obj = env.file.lookup(handle)
    obj.put()
    return obj


def test_the_default_is_the_merged_design_and_both_implement_the_protocol() -> None:
    assert Machine().device.mmap_design.name == "merged"
    assert Machine(mmap_design="mmap-v1").device.mmap_design.name == "mmap-v1"
    for name in mmap_design_names():
        assert isinstance(make_mmap_design(name), MmapDesign)


def test_an_unknown_design_is_valueerror_listing_the_names() -> None:
    with pytest.raises(ValueError, match=r"known: merged, mmap-v1"):
        Machine(mmap_design="v2")


def test_v1_hands_out_a_new_offset_on_every_request(v1: GemEnv) -> None:
    h = v1.create(PAGE_SIZE)
    offs = [v1.offset(h, GTT) for _ in range(3)] + [v1.offset(h, WB)]
    assert len(set(offs)) == 4
    assert v1.dev.offsets.nr_nodes() == 4
    v1.file.handle_delete(h)                       # GEM_CLOSE puts every one of them
    assert v1.dev.offsets.nr_nodes() == 0


def test_v1_offsets_are_per_file_and_gem_close_removes_only_that_files(v1: GemEnv) -> None:
    h = v1.create(PAGE_SIZE)
    mine = v1.offset(h, WB)
    other = v1.dev.open(0)
    h2, _ = gem_open(v1.dev, other, flink(v1.dev, v1.file, h))
    theirs = mman.mmap_offset(v1.dev, other, h2, WB)
    assert theirs != mine
    with pytest.raises(EACCES):                    # each offset is open to its file only
        v1.map(mine, PAGE_SIZE, file=other)
    v1.file.handle_delete(h)
    with pytest.raises(EINVAL):                    # the node itself is gone (merged: EACCES)
        v1.map(mine, PAGE_SIZE)
    addr = v1.map(theirs, PAGE_SIZE, file=other)
    v1.mm.cpu_write(addr, b"ok")
    v1.mm.munmap(addr, PAGE_SIZE)


def test_v1_a_mapping_holds_its_offset_past_gem_close_until_munmap(v1: GemEnv) -> None:
    h = v1.create(PAGE_SIZE)
    off = v1.offset(h, WB)
    mmo = mman.find_mmap_offset(_obj(v1, h), WB)   # type: ignore[arg-type]
    assert isinstance(mmo, MmoV1)
    addr = v1.map(off, PAGE_SIZE)
    assert mmo.ref.read() == 2                     # the creation's and the VMA's
    v1.file.handle_delete(h)
    assert mmo.ref.read() == 1 and v1.dev.offsets.nr_nodes() == 1
    v1.mm.cpu_write(addr, b"still")
    assert v1.mm.cpu_read(addr, 5) == b"still"
    v1.mm.munmap(addr, PAGE_SIZE)                  # the last put: node, offset, object go
    assert v1.dev.offsets.nr_nodes() == 0 and v1.dev.counters()["objects"] == 0
    with pytest.raises(SimBug, match="freed mmap offset"):
        mmo.ref.read()


def test_v1_fork_takes_both_references_and_exit_drops_them(v1: GemEnv) -> None:
    h = v1.create(PAGE_SIZE)
    addr = v1.map(v1.offset(h, GTT), PAGE_SIZE)
    v1.mm.cpu_write(addr, b"g")
    child = v1.mm.fork()
    v1.mms.append(child)
    mmo = mman.find_mmap_offset(_obj(v1, h), GTT)  # type: ignore[arg-type]
    assert isinstance(mmo, MmoV1) and mmo.ref.read() == 3
    child.exit_mmap()
    assert mmo.ref.read() == 2


def test_v1_a_list_add_during_an_unlocked_walk_is_not_reported_outside_explorations() -> None:
    # The data-race report is a sync.task.observe event: a no-op outside an exploration (the
    # history row reset-revoke-vs-mmap-offset is the test that it fails a schedule).
    env = GemEnv(mmap_design="mmap-v1")
    try:
        h = env.create(PAGE_SIZE)
        env.offset(h, GTT)
        obj = _obj(env, h)
        lst: MmoList = obj.mmo                     # type: ignore[attr-defined]
        walk = lst.walk_unlocked()
        next(walk)
        env.offset(h, GTT)                         # list_add while the walk is inside
        assert list(walk) == []                    # the head was read before the add
        assert lst.walkers == {}
    finally:
        env.teardown()


def test_v1_two_handles_of_one_file_put_the_mappings_offset_reference_too() -> None:
    """Not a review point, a consequence of the patch: GEM_CLOSE puts the creation reference
    of every offset of the closing *file*, once per handle, so a file holding two handles
    (GEM_OPEN of its own flink name) that closes both frees an offset a VMA still maps; the
    munmap then reads it.  The merged design keeps the offset as long as the object."""
    for design, broken in (("merged", False), ("mmap-v1", True)):
        env = GemEnv(mmap_design=design)
        h = env.create(PAGE_SIZE)
        h2, _ = gem_open(env.dev, env.file, flink(env.dev, env.file, h))
        addr = env.map(env.offset(h, WB), PAGE_SIZE)
        env.file.handle_delete(h)
        env.file.handle_delete(h2)
        if broken:
            with pytest.raises(SimBug, match="freed mmap offset"):
                env.mm.munmap(addr, PAGE_SIZE)
            continue                    # the model's state is past a use after free
        env.mm.munmap(addr, PAGE_SIZE)
        env.teardown()
