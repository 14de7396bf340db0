"""The VMA tree with its gap index, and the two-level page table."""

from __future__ import annotations

import random

import pytest

from softgem.errors import SimBug
from softgem.mm import Mm, PhysMem, Vma
from softgem.mm.pagetable import PageTable, make_pte, pte_pfn
from softgem.mm.vmatree import VmaTree

P = 4096


def _vma(start: int, end: int) -> Vma:
    return Vma(Mm(PhysMem(2)), start, end, 0)


def test_lookup_and_find_follow_the_kernel_meaning() -> None:
    t = VmaTree(0, 1 << 40)
    v = _vma(10 * P, 12 * P)
    t.occupy(v.start, v.end)
    t.link(v)
    assert t.lookup(11 * P) is v and t.lookup(12 * P) is None
    assert t.find(5 * P) is v          # find_vma: first vma ending above
    assert t.find(12 * P) is None
    assert t.overlapping(0, 10 * P) == [] and t.overlapping(0, 10 * P + 1) == [v]


def test_overlapping_vmas_cannot_be_linked() -> None:
    t = VmaTree(0, 1 << 40)
    t.link(_vma(P, 3 * P))
    with pytest.raises(SimBug):
        t.link(_vma(2 * P, 4 * P))


def test_gaps_merge_when_released_and_are_found_top_down_and_bottom_up() -> None:
    t = VmaTree(0, 100 * P)
    t.occupy(10 * P, 20 * P)
    t.occupy(30 * P, 40 * P)
    assert t.gap_top_down(5 * P, 0, 35 * P) == 25 * P
    assert t.gap_top_down(11 * P, 0, 35 * P) is None
    assert t.gap_bottom_up(10 * P, P, 100 * P) == 20 * P
    assert t.gap_bottom_up(11 * P, P, 100 * P) == 40 * P
    t.release(10 * P, 20 * P)
    assert t.nr_gaps() == 2
    assert t.gap_top_down(30 * P, 0, 30 * P) == 0
    with pytest.raises(SimBug):
        t.release(5 * P, 6 * P)


def test_random_occupy_release_keeps_gaps_exact() -> None:
    rng = random.Random(3)
    t = VmaTree(0, 64 * P)
    used: set[int] = set()
    for _ in range(300):
        page = rng.randrange(64)
        if page in used:
            t.release(page * P, (page + 1) * P)
            used.discard(page)
        else:
            t.occupy(page * P, (page + 1) * P)
            used.add(page)
        free = [p for p in range(64) if p not in used]
        assert all(t.is_free(p * P, (p + 1) * P) for p in free)
        assert not any(t.is_free(p * P, (p + 1) * P) for p in used)


def test_page_table_counts_ptes_and_tables_and_frees_empty_tables() -> None:
    pt = PageTable()
    pt.set(5, make_pte(77, True))
    pt.set(600, make_pte(78, False, special=True))
    assert pt.nr_present == 2 and pt.nr_tables() == 2
    assert pte_pfn(pt.lookup(5) or 0) == 77
    assert pt.first_populated(0, 1 << 30) == 0
    assert [v for v, _ in pt.items(0, 1000)] == [5, 600]
    assert len(pt.clear_range(0, 1000)) == 2 and pt.nr_present == 0
    pt.free_tables(0, 1 << 30, 0, 1000 * P)
    assert pt.nr_tables() == 0 and pt.first_populated(0, 1 << 30) is None


def test_page_tables_stay_while_a_neighbour_shares_their_span() -> None:
    pt = PageTable()
    pt.set(1, make_pte(1, True))
    pt.clear_range(0, 2)
    pt.free_tables(P, 1 << 21, 0, 2 * P)     # a vma ends at P: the table is kept
    assert pt.nr_tables() == 1


def test_items_over_a_huge_sparse_range_walks_only_what_exists() -> None:
    pt = PageTable()
    for vpn in (3, 1 << 30, (1 << 34) + 7):
        pt.set(vpn, make_pte(vpn & 0xFFF, False))
    assert [v for v, _ in pt.items(0, 1 << 35)] == [3, 1 << 30, (1 << 34) + 7]
