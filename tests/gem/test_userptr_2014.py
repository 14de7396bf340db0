"""userptr of the 2014 designs (v3.16, v4.4) at the GEM layer: the era's creation ladder,
the get_pages worker and its EAGAIN, the notifier's cancel, overlap and release.

Where both eras behave the same, one test runs on both; where they differ, the expectation
says which era does what (docs/history-2014.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from softgem import Machine
from softgem.errors import E2BIG, EAGAIN, EFAULT, EINVAL, ENODEV, EPERM, KernelError
from softgem.gem import GemObject
from softgem.gem.userptr import (
    I915_USERPTR_PROBE,
    I915_USERPTR_READ_ONLY,
    I915_USERPTR_UNSYNCHRONIZED,
    submit_init,
    userptr_create,
    validate,
)
from softgem.posix import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE, TASK_SIZE

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
SZ = 16 * PAGE_SIZE
ERAS = ("v3.16", "v4.4")

class World:
    """A machine of one era, a process, a DRM file; ``leaked_pins``: the page references
    the era is known to leak (v3.16's coalesced tails, c479f4383e), checked at teardown."""

    def __init__(self, design: str) -> None:
        self.m = Machine(memory=64 << 20, userptr_design=design)
        self.p = self.m.spawn()
        self.f = self.m.device.open(0)
        self.design: Any = self.m.device.userptr_design
        self.leaked_pins = 0

    def flush(self) -> None:
        self.design.flush_workers()

    def pages(self, obj: GemObject) -> None:
        """Execbuf's lookup until the worker has delivered (drmIoctl restarts on EAGAIN)."""
        for _ in range(100):
            try:
                submit_init(obj, self.p.mm)
                return
            except EAGAIN:
                self.flush()
        raise AssertionError("get_pages never completed")

    def coalesced_tails(self, obj: GemObject) -> int:
        """Pages v3.16 will not give back when ``obj``'s pages are put."""
        assert obj.pages is not None
        return len(obj.pages) - obj.pages.nents if self.design.name == "v3.16" else 0


@pytest.fixture(params=ERAS)
def w(request: pytest.FixtureRequest) -> Iterator[World]:
    world = World(request.param)
    yield world
    world.f.release()
    world.p.exit()
    world.m.shutdown()
    world.design.finish()
    leaks = world.m.counters().leaks()
    if world.leaked_pins:               # the same frame may be leaked more than once
        assert leaks.pop("pins") == world.leaked_pins
        assert 0 < leaks.pop("frames_used") <= world.leaked_pins
    assert leaks == {}


def _obj(f: Any, handle: int) -> GemObject:
    obj: GemObject = f.lookup(handle)
    obj.put()
    return obj


LADDER = [
    # (ptr, size, flags, errno): the era's checks, first failure wins
    (0x10000, SZ, 0x4, EINVAL),                        # unknown flag
    (0x10000, SZ, I915_USERPTR_PROBE, EINVAL),         # PROBE did not exist yet
    (0x10001, SZ, 0, EINVAL),                          # unaligned pointer
    (0x10000, SZ + 1, 0, EINVAL),                      # unaligned size
    (TASK_SIZE, SZ, 0, EFAULT),                        # outside the user address space
    ((1 << 64) - PAGE_SIZE, 2 * PAGE_SIZE, 0, EFAULT),  # wraps
    (0x10000, SZ, I915_USERPTR_READ_ONLY, ENODEV),     # no read-only PTEs in this era
    (0x10000, SZ, I915_USERPTR_UNSYNCHRONIZED, EPERM),  # root only
    (0x10000, SZ, 0x4 | I915_USERPTR_UNSYNCHRONIZED, EINVAL),  # flags checked first
]


@pytest.mark.parametrize(("ptr", "size", "flags", "err"), LADDER)
def test_creation_ladder_of_the_era(w: World, ptr: int, size: int, flags: int,
                                    err: type[KernelError]) -> None:
    with pytest.raises(err):
        userptr_create(w.m.device, w.f, w.p.mm, ptr, size, flags)
    assert w.f.nr_handles() == 0 and w.m.device.nr_objects == 0


def test_size_limit_is_the_gtt_until_c6d576cc57(w: World) -> None:
    big = (4 << 30) + PAGE_SIZE
    if w.design.name == "v3.16":
        with pytest.raises(E2BIG):
            userptr_create(w.m.device, w.f, w.p.mm, 0x10000, big, 0)
    else:
        w.f.handle_delete(userptr_create(w.m.device, w.f, w.p.mm, 0x10000, big, 0))


def test_size_zero_makes_an_empty_object(w: World) -> None:
    obj = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, 0x10000, 0, 0))
    assert obj.size == 0


def test_unsynchronized_for_cap_sys_admin_has_no_notifier(w: World) -> None:
    w.p.mm.cap_sys_admin = True          # no simulated process is root: set by hand
    a = w.p.mmap(0, PAGE_SIZE, RW, ANON)
    obj = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, a, PAGE_SIZE,
                                   I915_USERPTR_UNSYNCHRONIZED))
    assert w.m.counters().notifier_registrations == 0
    w.pages(obj)
    w.p.munmap(a, PAGE_SIZE)             # nobody hears it: the pages stay
    w.flush()
    assert obj.pages is not None


def test_creation_touches_no_page_and_set_domain_gets_none(w: World) -> None:
    used = w.m.phys.nr_used()
    obj = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, 0x7000_0000, SZ, 0))
    validate(obj, w.p.mm)                # SET_DOMAIN of the era: no pages, no probe
    assert w.m.phys.nr_used() == used and w.m.phys.nr_pinned() == 0 and obj.pages is None


def test_untouched_memory_goes_to_the_worker_touched_memory_to_the_fast_path(
        w: World) -> None:
    a = w.p.mmap(0, SZ, RW, ANON)
    obj = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, a, SZ, 0))
    with pytest.raises(EAGAIN):
        submit_init(obj, w.p.mm)         # no ptes: the worker is queued
    w.pages(obj)
    assert w.m.phys.nr_pinned() == SZ // PAGE_SIZE
    w.leaked_pins += w.coalesced_tails(obj)
    b = w.p.mmap(0, PAGE_SIZE, RW, ANON)
    w.p.write(b, b"\x02")
    fast = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, b, PAGE_SIZE, 0))
    submit_init(fast, w.p.mm)            # its pte is present: __get_user_pages_fast
    assert fast.pages is not None


def test_a_hole_is_efault_from_the_worker_reported_once(w: World) -> None:
    obj = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, 0x7000_0000, SZ, 0))
    with pytest.raises(EAGAIN):
        submit_init(obj, w.p.mm)
    w.flush()
    with pytest.raises(EFAULT):
        submit_init(obj, w.p.mm)         # the worker's error
    with pytest.raises(EAGAIN):
        submit_init(obj, w.p.mm)         # then a new worker
    w.flush()


def test_munmap_cancels_the_pages(w: World) -> None:
    a = w.p.mmap(0, SZ, RW, ANON)
    obj = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, a, SZ, 0))
    w.pages(obj)
    w.leaked_pins += w.coalesced_tails(obj)
    w.p.munmap(a + PAGE_SIZE, PAGE_SIZE)
    w.flush()
    # v3.16 cancels in the callback, v4.4 in its cancel worker: either way, pages gone.
    assert obj.pages is None and w.m.phys.nr_pinned() == w.leaked_pins
    w.p.mmap(a + PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED)
    w.pages(obj)
    w.leaked_pins += w.coalesced_tails(obj)


def test_overlap_refused_in_v3_16_allowed_with_the_linear_list_in_v4_4(w: World) -> None:
    a = w.p.mmap(0, 2 * SZ, RW, ANON)
    o1 = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, a, 2 * SZ, 0))
    if w.design.name == "v3.16":
        with pytest.raises(EINVAL):
            userptr_create(w.m.device, w.f, w.p.mm, a + SZ // 2, SZ, 0)
        return
    o2 = _obj(w.f, userptr_create(w.m.device, w.f, w.p.mm, a + SZ // 2, SZ, 0))
    w.pages(o1)
    w.pages(o2)
    w.p.munmap(a, PAGE_SIZE)             # the linear walk: only o1 overlaps
    w.flush()
    assert o1.pages is None and o2.pages is not None


def test_close_with_pages_and_the_notifier_goes_with_the_last_object(w: World) -> None:
    a = w.p.mmap(0, SZ, RW, ANON)
    h = userptr_create(w.m.device, w.f, w.p.mm, a, SZ, 0)
    obj = _obj(w.f, h)
    w.pages(obj)
    tails = w.coalesced_tails(obj)
    assert w.m.counters().notifier_registrations == 1
    w.f.handle_delete(h)
    w.flush()
    c = w.m.counters()
    assert (c.objects, c.handles, c.notifier_registrations) == (0, 0, 0)
    # v3.16 releases one page per coalesced scatterlist entry (c479f4383e).
    assert c.pins == tails and (tails > 0) == (w.design.name == "v3.16")
    w.leaked_pins += tails
