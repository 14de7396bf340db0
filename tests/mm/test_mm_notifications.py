"""Which address-space changes raise which invalidations (semantics.md section 8)."""

from __future__ import annotations

from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P, Recorder

from softgem.mm import Mm, NotifyEvent, pin_user_pages, unpin_user_pages
from softgem.posix import (
    MADV_DONTNEED,
    MADV_FREE,
    MAP_FIXED,
    MAP_SHARED,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_READ,
)

UNMAP, CLEAR = NotifyEvent.UNMAP, NotifyEvent.CLEAR
PVMA, PPAGE = NotifyEvent.PROTECTION_VMA, NotifyEvent.PROTECTION_PAGE


def test_every_start_is_paired_with_an_end(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x" * 4 * P)
    mm.madvise(a, P, MADV_DONTNEED)
    mm.mprotect(a, 4 * P, PROT_READ)
    mm.munmap(a, 4 * P)
    assert rec.active == 0
    assert [k for k in rec.kinds()] == [
        "start:CLEAR", "end:CLEAR", "start:PROTECTION_VMA", "end:PROTECTION_VMA",
        "start:UNMAP", "end:UNMAP"]


def test_munmap_raises_unmap_over_the_range_even_if_nothing_was_faulted_in(
        mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.munmap(a + P, 2 * P)
    assert rec.starts() == [(UNMAP, a + P, a + 3 * P)]


def test_munmap_of_an_empty_range_raises_nothing(mm: Mm, rec: Recorder) -> None:
    mm.munmap(0x7000_0000_0000, P)
    assert rec.log == []


def test_map_fixed_over_a_mapping_unmaps_the_old_range(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    rec.clear()
    mm.mmap(a + P, P, RW, ANON | MAP_FIXED)
    assert rec.starts() == [(UNMAP, a + P, a + 2 * P)]


def test_brk_shrink_unmaps_the_released_tail(mm: Mm, rec: Recorder) -> None:
    base = mm.brk(0)
    mm.brk(base + 4 * P)
    assert rec.log == []
    mm.brk(base + P)
    assert rec.starts() == [(UNMAP, base + P, base + 4 * P)]


def test_mremap_move_unmaps_the_old_range(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    mm.mmap(a + 2 * P, P, PROT_READ, ANON | MAP_FIXED)  # no room to grow in place
    rec.clear()
    new = mm.mremap(a, 2 * P, 4 * P, MREMAP_MAYMOVE)
    assert new != a
    assert rec.starts() and all(e is UNMAP and (s, t) == (a, a + 2 * P)
                                for e, s, t in rec.starts())


def test_mremap_shrink_unmaps_the_tail_and_grow_in_place_raises_nothing(
        mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.mremap(a, 4 * P, P)
    assert rec.starts() == [(UNMAP, a + P, a + 4 * P)]
    rec.clear()
    assert mm.mremap(a, P, 3 * P) == a
    assert rec.log == []


def test_mremap_fixed_unmaps_the_target_then_the_source(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    b = mm.mmap(0, 2 * P, PROT_READ, ANON)
    rec.clear()
    mm.mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, b)
    assert rec.starts()[0] == (UNMAP, b, b + 2 * P)
    assert (UNMAP, a, a + 2 * P) in rec.starts()


def test_mprotect_notifies_only_where_page_tables_were_populated(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.mprotect(a, 4 * P, PROT_READ)
    assert rec.log == []
    mm.cpu_read(a, 1)
    mm.mprotect(a, 4 * P, RW)
    assert [e for e, _, _ in rec.starts()] == [PVMA]
    assert rec.starts()[0][1] == a


def test_mprotect_still_notifies_after_dontneed_because_page_tables_stay(
        mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x")
    mm.madvise(a, 4 * P, MADV_DONTNEED)
    assert mm.nr_ptes() == 0
    rec.clear()
    mm.mprotect(a, 4 * P, PROT_READ)
    assert [e for e, _, _ in rec.starts()] == [PVMA]


def test_mprotect_is_silent_again_once_munmap_freed_the_page_tables(
        mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0x7000_0000_0000, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x")
    mm.munmap(a, 4 * P)
    b = mm.mmap(a, 4 * P, RW, ANON)
    rec.clear()
    mm.mprotect(b, 4 * P, PROT_READ)
    assert rec.log == []


def test_mprotect_to_the_same_rights_notifies_nothing(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x")
    mm.mprotect(a, 4 * P, RW)
    assert rec.log == []


def test_madvise_dontneed_clears_even_when_nothing_is_mapped(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.madvise(a + P, P, MADV_DONTNEED)
    assert rec.starts() == [(CLEAR, a + P, a + 2 * P)]


def test_madvise_free_clears(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x")
    mm.madvise(a, 4 * P, MADV_FREE)
    assert rec.starts() == [(CLEAR, a, a + 4 * P)]


def test_fork_protects_the_parents_private_vmas_with_anonymous_pages_only(
        mm: Mm, rec: Recorder) -> None:
    touched = mm.mmap(0, 2 * P, RW, ANON)
    mm.cpu_write(touched, b"x")
    mm.mmap(0x6000_0000_0000, 2 * P, RW, ANON)     # never written: not copied
    shared = mm.mmap(0, P, RW, SHARED_ANON)
    mm.cpu_write(shared, b"s")
    rec.clear()
    child = mm.fork()
    assert rec.starts() == [(PPAGE, touched, touched + 2 * P)]
    assert child.notifier_subscriptions is None


def test_cow_fault_clears_exactly_one_page(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x" * 4 * P)
    child = mm.fork()
    rec.clear()
    mm.cpu_write(a + P + 5, b"y")
    assert rec.starts() == [(CLEAR, a + P, a + 2 * P)]
    child.exit_mmap()


def test_a_write_to_the_zero_page_clears_that_page(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    assert mm.cpu_read(a, 4) == b"\0" * 4
    assert rec.log == []
    mm.cpu_write(a, b"z")
    assert rec.starts() == [(CLEAR, a, a + P)]


def test_first_touch_of_fresh_memory_raises_nothing(mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    mm.cpu_write(a, b"q" * 2 * P)
    assert rec.log == []


def test_exit_releases_then_unmaps_everything(mm: Mm, rec: Recorder) -> None:
    mm.mmap(0, P, RW, ANON)
    mm.exit_mmap()
    assert rec.kinds() == ["release", "start:UNMAP", "end:UNMAP"]
    assert rec.starts()[0][1:] == (0, 2**64 - 1)
    mm.exit_mmap()
    assert len(rec.log) == 3


def test_unmap_mapping_range_clears_every_mapping_of_the_file(
        phys: object, mm: Mm, rec: Recorder, dev: DeviceFile) -> None:
    a = mm.mmap(0, 4 * P, RW, MAP_SHARED, file=dev)
    child = mm.fork()
    child_rec = Recorder()
    child.notifier_subscriptions = child_rec
    rec.clear()
    dev.mapping.unmap_mapping_range(1, 2)
    assert rec.starts() == [(CLEAR, a + P, a + 3 * P)]
    assert child_rec.starts() == [(CLEAR, a + P, a + 3 * P)]


def test_pinned_pages_are_not_protected_by_fork_but_the_vma_still_is(
        mm: Mm, rec: Recorder) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"p")
    pfns = pin_user_pages(mm, a, 1, write=True)
    rec.clear()
    child = mm.fork()
    assert rec.starts() == [(PPAGE, a, a + P)]
    rec.clear()
    mm.cpu_write(a, b"still mine")     # parent's pte stayed writable: no COW, no CLEAR
    assert rec.log == []
    unpin_user_pages(mm.phys, pfns, dirty=True)
    child.exit_mmap()


def test_mprotect_range_starts_at_the_first_populated_pud_as_change_pud_range_does(
        mm: Mm, rec: Recorder) -> None:
    gib = 1 << 30
    a = mm.mmap(0x7000_0000_0000, 2 * gib, RW, ANON | MAP_FIXED)
    mm.cpu_write(a + gib + 5 * P, b"x")            # only the second PUD has tables
    rec.clear()
    mm.mprotect(a, 2 * gib, PROT_READ)
    assert rec.starts() == [(PVMA, a + gib, a + 2 * gib)]
