"""pin_user_pages / unpin_user_pages / probe_range."""

from __future__ import annotations

import pytest
from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P

from softgem.errors import EFAULT, SimBug
from softgem.mm import Mm, pin_user_pages, probe_range, unpin_user_pages
from softgem.posix import (
    MADV_DONTNEED,
    MAP_FIXED,
    MAP_SHARED,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)


def test_a_write_pin_faults_pages_in_and_pins_them(mm: Mm) -> None:
    a = mm.mmap(0, 3 * P, RW, ANON)
    pfns = pin_user_pages(mm, a, 3, write=True)
    assert len(pfns) == 3 and len(set(pfns)) == 3
    assert mm.phys.nr_pinned() == 3
    mm.phys.write(pfns[1], 0, b"dma")
    assert mm.cpu_read(a + P, 3) == b"dma"
    unpin_user_pages(mm.phys, pfns, dirty=True)
    assert mm.phys.nr_pinned() == 0 and mm.phys.is_dirty(pfns[1])


def test_a_read_pin_of_untouched_memory_pins_the_zero_page(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    pfns = pin_user_pages(mm, a, 2, write=False)
    assert pfns == [mm.phys.zero_pfn] * 2
    unpin_user_pages(mm.phys, pfns, dirty=False)


def test_the_mm_method_is_the_same_pin(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    pfns = mm.pin_user_pages(a, 1, True)
    unpin_user_pages(mm.phys, pfns, dirty=False)
    mm.probe_range(a, P)


REFUSALS = [
    # (prot, flags-are-device, write)
    (PROT_READ, False, True),       # write pin without VM_WRITE
    (PROT_WRITE, False, False),     # read pin without VM_READ
    (PROT_NONE, False, False),
    (RW, True, False),              # VM_PFNMAP|VM_IO
]


@pytest.mark.parametrize(("prot", "device", "write"), REFUSALS)
def test_gup_refuses_with_efault(mm: Mm, dev: DeviceFile, prot: int, device: bool,
                                 write: bool) -> None:
    a = mm.mmap(0, P, prot, MAP_SHARED, file=dev) if device else mm.mmap(0, P, prot, ANON)
    with pytest.raises(EFAULT):
        pin_user_pages(mm, a, 1, write=write)
    assert mm.phys.nr_pinned() == 0


def test_gup_refuses_a_hole_with_efault(mm: Mm) -> None:
    with pytest.raises(EFAULT):
        pin_user_pages(mm, 0x7000_0000_0000, 1, write=False)


def test_gup_stops_at_the_first_bad_page_and_returns_the_pinned_prefix(
        mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.mmap(a + 2 * P, P, RW, MAP_SHARED | MAP_FIXED, file=dev)
    pfns = pin_user_pages(mm, a, 4, write=True)
    assert len(pfns) == 2
    unpin_user_pages(mm.phys, pfns, dirty=False)
    mm.munmap(a + 3 * P, P)
    with pytest.raises(EFAULT):
        pin_user_pages(mm, a + 3 * P, 1, write=True)


def test_unaligned_start_is_a_bug_in_the_caller(mm: Mm) -> None:
    with pytest.raises(SimBug):
        pin_user_pages(mm, 0x10001, 1, write=False)


def test_a_write_pin_breaks_cow_so_the_pin_sees_the_parents_page(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"before")
    child = mm.fork()
    [pfn] = pin_user_pages(mm, a, 1, write=True)
    mm.cpu_write(a, b"after!")
    assert mm.phys.read(pfn, 0, 6) == b"after!"
    assert child.cpu_read(a, 6) == b"before"
    unpin_user_pages(mm.phys, [pfn], dirty=False)
    child.exit_mmap()


def test_a_read_pin_unshares_a_cow_shared_page_first(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"shared")
    child = mm.fork()
    shared_pfn = child.resident_pages(a, a + P)[0][1]
    [pfn] = pin_user_pages(mm, a, 1, write=False)
    assert pfn != shared_pfn
    mm.cpu_write(a, b"parent")        # no further COW: the pin follows the parent's writes
    assert mm.phys.read(pfn, 0, 6) == b"parent"
    assert child.cpu_read(a, 6) == b"shared"
    unpin_user_pages(mm.phys, [pfn], dirty=False)
    child.exit_mmap()


def test_pinned_anonymous_pages_are_copied_for_the_child_at_fork(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    mm.cpu_write(a, b"A" * 2 * P)
    pfns = pin_user_pages(mm, a, 1, write=True)
    child = mm.fork()
    child_pfns = dict(child.resident_pages())
    parent_pfns = dict(mm.resident_pages())
    assert child_pfns[a] != pfns[0] and parent_pfns[a] == pfns[0]
    assert child_pfns[a + P] == parent_pfns[a + P]           # unpinned: shared COW
    mm.cpu_write(a, b"P")
    child.cpu_write(a, b"C")
    assert mm.phys.read(pfns[0], 0, 1) == b"P"
    assert child.cpu_read(a, 2) == b"CA"
    unpin_user_pages(mm.phys, pfns, dirty=False)
    child.exit_mmap()


def test_pins_survive_munmap_and_free_the_frame_when_dropped(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    [pfn] = pin_user_pages(mm, a, 1, write=True)
    mm.cpu_write(a, b"kept")
    mm.munmap(a, P)
    assert mm.phys.nr_used() == 1 and mm.phys.read(pfn, 0, 4) == b"kept"
    unpin_user_pages(mm.phys, [pfn], dirty=True)
    assert mm.phys.nr_used() == 0


def test_after_madvise_dontneed_cpu_and_pin_diverge(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"old")
    [pfn] = pin_user_pages(mm, a, 1, write=True)
    mm.madvise(a, P, MADV_DONTNEED)
    assert mm.cpu_read(a, 3) == b"\0\0\0"       # a fresh zero page for the CPU
    mm.cpu_write(a, b"new")
    assert mm.phys.read(pfn, 0, 3) == b"old"    # the pin still holds the old page
    unpin_user_pages(mm.phys, [pfn], dirty=False)


def test_shared_anonymous_pages_can_be_pinned_and_stay_shared(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, SHARED_ANON)
    child = mm.fork()
    [pfn] = pin_user_pages(mm, a, 1, write=False)
    child.cpu_write(a, b"seen")
    assert mm.phys.read(pfn, 0, 4) == b"seen"
    unpin_user_pages(mm.phys, [pfn], dirty=False)
    child.exit_mmap()


class TestProbeRange:
    def test_a_fully_mapped_range_passes_whatever_its_rights(self, mm: Mm) -> None:
        a = mm.mmap(0, 2 * P, PROT_NONE, ANON)
        mm.mmap(a + 2 * P, P, PROT_READ, ANON | MAP_FIXED)
        probe_range(mm, a, 3 * P)

    def test_a_hole_fails(self, mm: Mm) -> None:
        a = mm.mmap(0, 3 * P, RW, ANON)
        mm.munmap(a + P, P)
        with pytest.raises(EFAULT):
            probe_range(mm, a, 3 * P)
        with pytest.raises(EFAULT):
            probe_range(mm, a + 3 * P, P)

    def test_a_device_mapping_fails(self, mm: Mm, dev: DeviceFile) -> None:
        a = mm.mmap(0, 2 * P, RW, ANON)
        mm.mmap(a + P, P, RW, MAP_SHARED | MAP_FIXED, file=dev)
        with pytest.raises(EFAULT):
            probe_range(mm, a, 2 * P)
        probe_range(mm, a, P)
