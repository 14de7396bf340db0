from __future__ import annotations

import random

import pytest

from softgem.errors import ENOMEM, SimBug
from softgem.mm import PhysMem
from softgem.units import PAGE_SIZE


def test_frame_numbers_do_not_start_at_zero_and_depend_on_the_seed() -> None:
    a = PhysMem(16, rng=random.Random(1))
    b = PhysMem(16, rng=random.Random(2))
    assert a.base_pfn != 0
    assert a.base_pfn != b.base_pfn
    assert a.index(a.base_pfn + 3) == 3


def test_consecutive_allocations_are_physically_contiguous_and_zeroed(phys: PhysMem) -> None:
    pfns = [phys.alloc_page() for _ in range(4)]
    assert [p - pfns[0] for p in pfns] == [0, 1, 2, 3]
    assert all(not phys.page(p).any() for p in pfns)
    assert phys.nr_used() == 4


def test_a_freed_frame_is_reused_lowest_first_and_comes_back_zeroed(phys: PhysMem) -> None:
    a, b, c = (phys.alloc_page() for _ in range(3))
    phys.write(a, 0, b"dirty")
    phys.put_page(c)
    phys.put_page(a)
    assert phys.alloc_page() == a
    assert phys.read(a, 0, 5) == b"\0" * 5
    assert phys.alloc_page() == c
    del b


def test_allocation_fails_with_enomem_when_memory_is_exhausted() -> None:
    small = PhysMem(4)
    for _ in range(3):
        small.alloc_page()
    with pytest.raises(ENOMEM):
        small.alloc_page()
    assert small.nr_free() == 0


def test_the_last_put_frees_the_frame_and_one_more_is_a_bug(phys: PhysMem) -> None:
    p = phys.alloc_page()
    phys.get_page(p)
    phys.put_page(p)
    assert phys.nr_used() == 1
    phys.put_page(p)
    assert phys.nr_used() == 0
    with pytest.raises(SimBug):
        phys.put_page(p)
    with pytest.raises(SimBug):
        phys.get_page(p)


def test_a_pin_holds_a_reference_and_is_counted_apart(phys: PhysMem) -> None:
    p = phys.alloc_page()
    phys.pin_page(p)
    assert phys.page_maybe_dma_pinned(p)
    assert phys.nr_pinned() == 1
    assert phys.page_count(p) == 2
    phys.put_page(p)            # the owner lets go: the pin keeps the frame
    assert phys.nr_used() == 1
    phys.unpin_page(p)
    assert phys.nr_used() == 0 and phys.nr_pinned() == 0
    with pytest.raises(SimBug):
        phys.unpin_page(p)


def test_the_zero_page_is_never_freed_never_counted_and_never_written(phys: PhysMem) -> None:
    z = phys.zero_pfn
    phys.get_page(z)
    phys.put_page(z)
    phys.put_page(z)
    phys.pin_page(z)
    assert phys.nr_pinned() == 1
    phys.unpin_page(z)
    assert phys.nr_used() == 0
    with pytest.raises(SimBug):
        phys.write(z, 0, b"x")


def test_dirty_and_accessed_flags_are_cleared_when_the_frame_is_reused(phys: PhysMem) -> None:
    p = phys.alloc_page()
    phys.set_dirty(p)
    phys.set_accessed(p)
    assert phys.is_dirty(p)
    phys.put_page(p)
    q = phys.alloc_page()
    assert q == p and not phys.is_dirty(q)


@pytest.mark.parametrize("pfn_offset", [-1, 4096])
def test_a_pfn_outside_the_machine_is_a_bug(phys: PhysMem, pfn_offset: int) -> None:
    with pytest.raises(SimBug):
        phys.index(phys.base_pfn + pfn_offset)


def test_read_and_write_stay_inside_one_page(phys: PhysMem) -> None:
    p = phys.alloc_page()
    phys.write(p, PAGE_SIZE - 2, b"ab")
    assert phys.read(p, PAGE_SIZE - 2, 2) == b"ab"
    with pytest.raises(SimBug):
        phys.write(p, PAGE_SIZE - 1, b"ab")
    with pytest.raises(SimBug):
        phys.read(p, -1, 1)
