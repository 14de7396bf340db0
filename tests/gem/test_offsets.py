"""The fake mmap offset space: allocation, lookup, and the per-file allow list."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softgem.errors import ENOSPC, SimBug
from softgem.gem.offsets import (
    DRM_FILE_PAGE_OFFSET_SIZE,
    DRM_FILE_PAGE_OFFSET_START,
    OffsetManager,
    OffsetNode,
)
from softgem.units import PAGE_SHIFT


def test_the_space_starts_above_4gib_and_is_256_times_that_big() -> None:
    assert DRM_FILE_PAGE_OFFSET_START << PAGE_SHIFT == 1 << 32
    assert DRM_FILE_PAGE_OFFSET_SIZE == 0xFFFFF * 256
    mgr = OffsetManager()
    node = OffsetNode()
    mgr.add(node, 4)
    assert node.start == DRM_FILE_PAGE_OFFSET_START
    assert node.offset_addr() == 1 << 32
    mgr.remove(node)


def test_adding_an_allocated_node_again_changes_nothing() -> None:
    mgr = OffsetManager(100, 50)
    node = OffsetNode()
    mgr.add(node, 4)
    mgr.add(node, 10)
    assert (node.start, node.npages, mgr.nr_nodes(), mgr.nr_free_pages()) == (100, 4, 1, 46)


def test_nodes_never_overlap_and_follow_one_another() -> None:
    mgr = OffsetManager(100, 50)
    a, b = OffsetNode(), OffsetNode()
    mgr.add(a, 3)
    mgr.add(b, 5)
    assert (a.start, b.start) == (100, 103)


def test_allocation_is_best_fit_so_small_nodes_fill_small_holes() -> None:
    mgr = OffsetManager(0, 100)
    nodes = [OffsetNode() for _ in range(4)]
    for n, size in zip(nodes, (10, 2, 10, 3), strict=True):
        mgr.add(n, size)
    mgr.remove(nodes[1])          # a 2-page hole at 10
    small = OffsetNode()
    mgr.add(small, 2)
    assert small.start == 10
    mgr.remove(nodes[0])          # a 10-page hole at 0, and the 75-page tail
    big = OffsetNode()
    mgr.add(big, 9)
    assert big.start == 0


def test_freed_ranges_merge_back_into_one_hole() -> None:
    mgr = OffsetManager(0, 30)
    nodes = [OffsetNode() for _ in range(3)]
    for n in nodes:
        mgr.add(n, 10)
    for i in (0, 2, 1):
        mgr.remove(nodes[i])
    whole = OffsetNode()
    mgr.add(whole, 30)
    assert (whole.start, mgr.nr_free_pages()) == (0, 0)


def test_a_full_space_reports_enospc_and_changes_nothing() -> None:
    mgr = OffsetManager(0, 8)
    a = OffsetNode()
    mgr.add(a, 6)
    with pytest.raises(ENOSPC):
        mgr.add(OffsetNode(), 3)
    with pytest.raises(ENOSPC):
        mgr.add(OffsetNode(), 0)
    assert (mgr.nr_nodes(), mgr.nr_free_pages()) == (1, 2)


def test_removing_a_node_that_was_never_added_does_nothing() -> None:
    mgr = OffsetManager(0, 8)
    mgr.remove(OffsetNode())
    assert mgr.nr_free_pages() == 8


def test_removing_a_node_of_another_manager_is_a_bug() -> None:
    a, b = OffsetManager(0, 8), OffsetManager(0, 8)
    node = OffsetNode()
    a.add(node, 2)
    b.add(OffsetNode(), 4)
    node.start = 0          # pretend: same numbers, wrong manager
    with pytest.raises(SimBug):
        b.remove(node)


@pytest.mark.parametrize(("pgoff", "npages", "found"), [
    (110, 1, True),     # the start, one page
    (110, 4, True),     # the start, the whole node
    (110, 5, False),    # longer than the node
    (111, 1, False),    # inside the node, not at its start
    (109, 1, False),    # before it
    (114, 1, False),    # just past it
])
def test_exact_lookup_needs_the_node_start_and_a_fitting_length(pgoff: int, npages: int,
                                                                 found: bool) -> None:
    mgr = OffsetManager(100, 50)
    mgr.add(OffsetNode(), 10)
    node = OffsetNode()
    mgr.add(node, 4)
    assert (mgr.exact_lookup(pgoff, npages) is node) is found


def test_range_lookup_finds_the_node_containing_the_range() -> None:
    mgr = OffsetManager(100, 50)
    node = OffsetNode()
    mgr.add(node, 4)
    with mgr.lock.read():
        assert mgr.lookup_locked(101, 3) is node
        assert mgr.lookup_locked(101, 4) is None
        assert mgr.lookup_locked(99, 1) is None


def test_allow_once_is_not_counted_so_one_revoke_removes_it() -> None:
    node = OffsetNode()
    node.allow_once("f")
    node.allow_once("f")
    assert node.is_allowed("f") and not node.is_allowed("g")
    node.revoke("f")
    assert not node.is_allowed("f")


def test_allow_is_counted_and_needs_a_revoke_per_allow() -> None:
    node = OffsetNode()
    node.allow("f")
    node.allow("f")
    node.revoke("f")
    assert node.is_allowed("f")
    node.revoke("f")
    assert not node.is_allowed("f")
    node.revoke("f")        # not on the list: nothing happens
    assert node.nr_allowed() == 0


def test_the_allow_list_survives_remove_and_add() -> None:
    mgr = OffsetManager(0, 16)
    node = OffsetNode()
    node.allow_once("f")
    mgr.add(node, 2)
    mgr.remove(node)
    assert node.start == 0 and not node.allocated
    mgr.add(node, 2)
    assert node.is_allowed("f")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 12), st.integers(0, 30)),
                max_size=60))
def test_random_adds_and_removes_keep_the_space_consistent(
        ops: list[tuple[bool, int, int]]) -> None:
    first, size = 1000, 64
    mgr = OffsetManager(first, size)
    live: list[OffsetNode] = []
    for add, npages, pick in ops:
        if add:
            node = OffsetNode()
            try:
                mgr.add(node, npages)
            except ENOSPC:
                assert mgr.nr_free_pages() < size       # something is in the way
                continue
            live.append(node)
        elif live:
            mgr.remove(live.pop(pick % len(live)))
        spans = sorted((n.start, n.start + n.npages) for n in live)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start
        assert all(first <= s and e <= first + size for s, e in spans)
        assert mgr.nr_free_pages() + sum(n.npages for n in live) == size
        assert all(mgr.exact_lookup(n.start, n.npages) is n for n in live)
    for node in live:
        mgr.remove(node)
    assert mgr.nr_nodes() == 0 and mgr.nr_free_pages() == size
