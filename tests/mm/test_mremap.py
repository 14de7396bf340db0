from __future__ import annotations

import pytest
from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P

from softgem.errors import EFAULT, EINVAL, ENOMEM, KernelError
from softgem.mm import Mm, pin_user_pages, unpin_user_pages
from softgem.posix import (
    MAP_FIXED,
    MAP_SHARED,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_READ,
)

MAY, FIX, DONT = MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP

# (old_off, old_len, new_len, flags, new_addr_off, errno); offsets relative to a 4-page map
LADDER = [
    (0, P, P, 0x8, 0, EINVAL),                  # unknown flag
    (1, P, P, 0, 0, EINVAL),                    # unaligned old address
    (0, P, 0, 0, 0, EINVAL),                    # new length 0
    (0, P, P, MAY | FIX, 1, EINVAL),            # unaligned new address
    (0, P, P, FIX, 8 * P, EINVAL),              # FIXED without MAYMOVE
    (0, P, 2 * P, MAY | DONT, 8 * P, EINVAL),   # DONTUNMAP resizing
    (-4 * P, P, P, 0, 0, EFAULT),               # nothing mapped at the old address
    (0, 2 * P, 2 * P, MAY | FIX, P, EINVAL),   # target overlaps source
    (2 * P, 4 * P, 8 * P, MAY, 0, EFAULT),      # old range crosses the end of the vma
    (0, 4 * P, 8 * P, 0, 0, ENOMEM),            # cannot grow in place without MAYMOVE
]


@pytest.mark.parametrize(("old", "old_len", "new_len", "flags", "new", "err"), LADDER)
def test_mremap_errno_ladder(mm: Mm, old: int, old_len: int, new_len: int, flags: int,
                             new: int, err: type[KernelError]) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.mmap(a + 4 * P, P, PROT_READ, ANON | MAP_FIXED)   # a neighbour blocks growth
    before = [(v.start, v.end) for v in mm.vmas()]
    with pytest.raises(err):
        mm.mremap(a + old, old_len, new_len, flags, a + new)
    assert [(v.start, v.end) for v in mm.vmas()] == before


def test_duplicating_a_private_mapping_with_old_len_zero_is_einval(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    with pytest.raises(EINVAL):
        mm.mremap(a, 0, P, MAY)


def test_old_len_zero_duplicates_a_shared_mapping(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, SHARED_ANON)
    b = mm.mremap(a, 0, P, MAY)
    assert b != a
    mm.cpu_write(a, b"twin")
    assert mm.cpu_read(b, 4) == b"twin"


def test_growing_in_place_keeps_the_address_and_data(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.mmap(a - 8 * P, P, PROT_READ, ANON | MAP_FIXED)
    mm.cpu_write(a, b"stay")
    mm.munmap(a, P)
    a = mm.mmap(a - 4 * P, P, RW, ANON | MAP_FIXED)
    mm.cpu_write(a, b"stay")
    assert mm.mremap(a, P, 3 * P) == a
    assert mm.cpu_read(a, 4) == b"stay"
    mm.cpu_write(a + 2 * P, b"grown")


def test_moving_carries_the_pages_and_leaves_a_hole(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    mm.mmap(a + 2 * P, P, PROT_READ, ANON | MAP_FIXED)
    mm.cpu_write(a + P, b"moved")
    [pfn] = pin_user_pages(mm, a + P, 1, write=True)
    b = mm.mremap(a, 2 * P, 4 * P, MAY)
    assert mm.vma_lookup(a) is None
    assert mm.cpu_read(b + P, 5) == b"moved"
    assert dict(mm.resident_pages())[b + P] == pfn   # same frame, pin still valid
    unpin_user_pages(mm.phys, [pfn], dirty=False)


def test_mremap_fixed_replaces_just_the_new_length_at_the_target(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    t = mm.mmap(0, 2 * P, PROT_READ, ANON)
    mm.cpu_write(a, b"src")
    assert mm.mremap(a, P, P, MAY | FIX, t) == t
    assert mm.cpu_read(t, 3) == b"src"
    rest = mm.vma_lookup(t + P)
    assert rest is not None and rest.start == t + P
    assert mm.vma_lookup(a) is None


def test_shrinking_unmaps_the_tail(mm: Mm) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x" * 4 * P)
    assert mm.mremap(a, 4 * P, P) == a
    assert mm.nr_ptes() == 1 and mm.vmas()[0].end == a + P


def test_dontunmap_moves_the_pages_and_keeps_an_empty_source(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"data")
    b = mm.mremap(a, P, P, MAY | DONT)
    assert mm.cpu_read(b, 4) == b"data"
    assert mm.cpu_read(a, 4) == bytes(4)


def test_a_device_mapping_moves_but_cannot_grow(mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 2 * P, RW, MAP_SHARED, file=dev)
    with pytest.raises(EFAULT):
        mm.mremap(a, 2 * P, 3 * P, MAY)
    with pytest.raises(EINVAL):
        mm.mremap(a, 2 * P, 2 * P, MAY | DONT)
    mm.cpu_write(a, b"io")
    t = mm.mmap(0, 2 * P, PROT_READ, ANON)
    assert mm.mremap(a, 2 * P, 2 * P, MAY | FIX, t) == t
    assert mm.cpu_read(t, 2) == b"io"
    assert dev.ops.opened == 1 and dev.ops.closed == 1 and dev.mapping.nr_vmas() == 1
