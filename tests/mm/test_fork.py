"""dup_mmap: what a child address space inherits."""

from __future__ import annotations

from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P

from softgem.mm import Mm
from softgem.mm.madvise import MADV_WIPEONFORK
from softgem.posix import MADV_DONTFORK, MAP_SHARED, PROT_READ


def test_the_child_has_the_same_layout_and_contents(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    r = mm.mmap(0, P, PROT_READ, ANON)
    mm.cpu_write(a, b"inherited")
    brk = mm.brk(mm.brk(0) + P)
    child = mm.fork()
    assert [(v.start, v.end, v.flags) for v in child.vmas()] == \
        [(v.start, v.end, v.flags) for v in mm.vmas()]
    assert child.cpu_read(a, 9) == b"inherited"
    assert child.cpu_read(r, 1) == b"\0"
    assert child.brk(0) == brk and child.mmap_base == mm.mmap_base


def test_cow_pages_are_shared_until_written(mm: Mm) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x" * 4 * P)
    child = mm.fork()
    assert mm.phys.nr_used() == 4
    child.cpu_write(a + P, b"y")
    assert mm.phys.nr_used() == 5
    child.exit_mmap()
    mm.exit_mmap()
    assert mm.phys.nr_used() == 0


def test_never_written_private_memory_is_not_copied(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_read(a, 1)
    child = mm.fork()
    assert child.nr_ptes() == 0 and child.cpu_read(a, 1) == b"\0"


def test_madv_dontfork_leaves_the_range_out_of_the_child(mm: Mm) -> None:
    a = mm.mmap(0, 3 * P, RW, ANON)
    mm.cpu_write(a, b"z" * 3 * P)
    mm.madvise(a + P, P, MADV_DONTFORK)
    child = mm.fork()
    assert [(v.start - a, v.end - a) for v in child.vmas()] == [(0, P), (2 * P, 3 * P)]


def test_madv_wipeonfork_gives_the_child_fresh_zero_memory(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"secret")
    mm.madvise(a, P, MADV_WIPEONFORK)
    child = mm.fork()
    assert child.cpu_read(a, 6) == bytes(6)
    assert mm.cpu_read(a, 6) == b"secret"


def test_file_mappings_are_opened_again_for_the_child_and_share_the_device(
        mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 2 * P, RW, MAP_SHARED, file=dev)
    mm.cpu_write(a, b"dev")
    child = mm.fork()
    assert dev.ops.opened == 1 and dev.mapping.nr_vmas() == 2
    assert child.nr_ptes() == 1               # PFNMAP ptes are copied at fork
    assert child.cpu_read(a, 3) == b"dev"
    child.exit_mmap()
    assert dev.ops.closed == 1 and dev.mapping.nr_vmas() == 1


def test_shared_anonymous_memory_outlives_the_parent_in_the_child(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, SHARED_ANON)
    mm.cpu_write(a, b"keep")
    child = mm.fork()
    mm.exit_mmap()
    assert child.cpu_read(a, 4) == b"keep"
    child.exit_mmap()
    assert child.phys.nr_used() == 0


def test_grandchildren_cow_correctly(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"0")
    c1 = mm.fork()
    c2 = c1.fork()
    c1.cpu_write(a, b"1")
    c2.cpu_write(a, b"2")
    assert (mm.cpu_read(a, 1), c1.cpu_read(a, 1), c2.cpu_read(a, 1)) == (b"0", b"1", b"2")
    for m in (c2, c1, mm):
        m.exit_mmap()
    assert mm.phys.nr_used() == 0
