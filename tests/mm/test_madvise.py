from __future__ import annotations

import pytest
from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P

from softgem.errors import EACCES, EINVAL, ENOMEM, EOPNOTSUPP, EPERM, KernelError
from softgem.mm import VM_DONTCOPY, Mm, pin_user_pages, unpin_user_pages
from softgem.mm.madvise import (
    MADV_COLD,
    MADV_DODUMP,
    MADV_HWPOISON,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
)
from softgem.posix import (
    MADV_DOFORK,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_NORMAL,
    MADV_REMOVE,
    MADV_WILLNEED,
    MAP_FIXED,
    MAP_LOCKED,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
)

# (offset, length, advice, errno) against a 2-page RW anon mapping, a hole, then 1 page
LADDER = [
    (0, P, 7, EINVAL),                       # unknown advice
    (1, P, MADV_DONTNEED, EINVAL),
    (0, 2**64 - 1, MADV_DONTNEED, EINVAL),   # length overflows when page aligned
    (0, P, MADV_HWPOISON, EPERM),
    (0, 4 * P, MADV_DONTNEED, ENOMEM),       # hole inside
    (4 * P, P, MADV_DONTNEED, ENOMEM),       # past the last mapping
    (0, P, MADV_REMOVE, EINVAL),             # anonymous memory cannot punch holes
]


@pytest.mark.parametrize(("off", "length", "advice", "err"), LADDER)
def test_madvise_errno_ladder(mm: Mm, off: int, length: int, advice: int,
                              err: type[KernelError]) -> None:
    a = mm.mmap(0x7000_0000_0000, 2 * P, RW, ANON)
    mm.mmap(a + 3 * P, P, RW, ANON)
    with pytest.raises(err):
        mm.madvise(a + off, length, advice)


def test_length_zero_succeeds(mm: Mm) -> None:
    mm.madvise(0x7000_0000_0000, 0, MADV_DONTNEED)


def test_dontneed_drops_private_data_and_the_next_touch_reads_zeros(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    mm.cpu_write(a, b"x" * 2 * P)
    mm.madvise(a, P, MADV_DONTNEED)
    assert mm.cpu_read(a, 1) == b"\0" and mm.cpu_read(a + P, 1) == b"x"
    assert mm.phys.nr_used() == 1


def test_dontneed_on_shared_memory_keeps_the_data(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, SHARED_ANON)
    mm.cpu_write(a, b"kept")
    mm.madvise(a, P, MADV_DONTNEED)
    assert mm.nr_ptes() == 0
    assert mm.cpu_read(a, 4) == b"kept"


def test_holes_fail_only_after_the_mapped_parts_were_handled(mm: Mm) -> None:
    a = mm.mmap(0x7000_0000_0000, P, RW, ANON)
    b = mm.mmap(a + 2 * P, P, RW, ANON)
    mm.cpu_write(a, b"1")
    mm.cpu_write(b, b"2")
    with pytest.raises(ENOMEM):
        mm.madvise(a, 3 * P, MADV_DONTNEED)
    assert mm.nr_ptes() == 0


@pytest.mark.parametrize("advice", [MADV_DONTNEED, MADV_FREE, MADV_COLD])
def test_device_mappings_refuse_page_dropping_advice(mm: Mm, dev: DeviceFile,
                                                     advice: int) -> None:
    a = mm.mmap(0, P, RW, MAP_SHARED, file=dev)
    with pytest.raises(EINVAL):
        mm.madvise(a, P, advice)


def test_dontneed_refuses_locked_memory(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON | MAP_LOCKED)
    with pytest.raises(EINVAL):
        mm.madvise(a, P, MADV_DONTNEED)


def test_free_refuses_shared_memory(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, SHARED_ANON)
    with pytest.raises(EINVAL):
        mm.madvise(a, P, MADV_FREE)


def test_free_drops_our_own_pages_but_not_pinned_or_shared_ones(mm: Mm) -> None:
    a = mm.mmap(0, 3 * P, RW, ANON)
    mm.cpu_write(a, b"a" * P + b"b" * P)
    child = mm.fork()                       # pages 0 and 1 now COW-shared
    mm.cpu_write(a + P, b"B")               # page 1 is ours alone again
    mm.cpu_write(a + 2 * P, b"c")
    [pinned] = pin_user_pages(mm, a + 2 * P, 1, write=True)
    mm.madvise(a, 3 * P, MADV_FREE)
    assert mm.cpu_read(a, 1) == b"a"        # shared with the child: kept
    assert mm.cpu_read(a + P, 1) == b"\0"   # freed
    assert mm.cpu_read(a + 2 * P, 1) == b"c"  # pinned: kept
    unpin_user_pages(mm.phys, [pinned], dirty=False)
    child.exit_mmap()


def test_remove_punches_a_hole_in_shared_memory_for_every_mapper(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, SHARED_ANON)
    mm.cpu_write(a, b"1" * 2 * P)
    child = mm.fork()
    mm.madvise(a, P, MADV_REMOVE)
    assert child.cpu_read(a, 1) == b"\0" and child.cpu_read(a + P, 1) == b"1"


def test_remove_needs_a_shared_writable_mapping_of_a_file_that_can_punch(
        mm: Mm, dev: DeviceFile) -> None:
    ro = mm.mmap(0, P, PROT_READ, SHARED_ANON)
    mm.madvise(ro, P, MADV_REMOVE)          # VM_MAYWRITE is enough, as in Linux
    d = mm.mmap(0, P, RW, MAP_SHARED, file=dev)
    with pytest.raises(EOPNOTSUPP):
        mm.madvise(d, P, MADV_REMOVE)
    p = mm.mmap(0, P, RW, MAP_PRIVATE, file=dev)
    with pytest.raises(EACCES):
        mm.madvise(p, P, MADV_REMOVE)


def test_dontfork_splits_and_dofork_merges_back(mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 3 * P, RW, ANON)
    mm.madvise(a + P, P, MADV_DONTFORK)
    assert mm.nr_vmas() == 3 and mm.vma_lookup(a + P).flags & VM_DONTCOPY  # type: ignore
    mm.madvise(a, 3 * P, MADV_DOFORK)
    assert mm.nr_vmas() == 1
    d = mm.mmap(0, P, RW, MAP_SHARED, file=dev)
    with pytest.raises(EINVAL):
        mm.madvise(d, P, MADV_DOFORK)       # VM_IO
    with pytest.raises(EINVAL):
        mm.madvise(d, P, MADV_DODUMP)       # VM_SPECIAL


@pytest.mark.parametrize("advice", [MADV_NORMAL, MADV_WILLNEED, MADV_COLD])
def test_hints_are_accepted(mm: Mm, advice: int) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.madvise(a, P, advice)


def test_populate_faults_pages_in_or_refuses(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    mm.madvise(a, 2 * P, MADV_POPULATE_WRITE)
    assert mm.phys.nr_used() == 2
    r = mm.mmap(a - 4 * P, P, PROT_READ, ANON | MAP_FIXED)
    mm.madvise(r, P, MADV_POPULATE_READ)
    with pytest.raises(EINVAL):
        mm.madvise(r, P, MADV_POPULATE_WRITE)
