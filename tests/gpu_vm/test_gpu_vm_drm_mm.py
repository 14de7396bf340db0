"""DrmMM: first fit, alignment, fixed placement, ranges, the eviction scan."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softgem.errors import EINVAL, ENOSPC, SimBug
from softgem.gpu import DrmMM, DrmMMNode

K = 0x1000


def insert(mm: DrmMM, size: int, alignment: int = 0, **kw: int | bool) -> DrmMMNode:
    node = DrmMMNode()
    mm.insert(node, size, alignment, **kw)  # type: ignore[arg-type]
    return node


def test_first_fit_takes_the_lowest_hole_that_fits() -> None:
    mm = DrmMM(0, 16 * K)
    a, b, c = insert(mm, 2 * K), insert(mm, 4 * K), insert(mm, 2 * K)
    assert (a.start, b.start, c.start) == (0, 2 * K, 6 * K)
    mm.remove(b)
    assert insert(mm, 1 * K).start == 2 * K          # reuses the freed hole
    assert insert(mm, 4 * K).start == 8 * K          # too big for what is left there


def test_alignment_rounds_the_start_up_within_the_hole() -> None:
    mm = DrmMM(0, 64 * K)
    insert(mm, K)
    node = insert(mm, K, 16 * K)
    assert node.start == 16 * K


def test_high_placement_takes_the_top_of_the_highest_hole() -> None:
    mm = DrmMM(0, 16 * K)
    node = insert(mm, 2 * K, high=True)
    assert node.end == 16 * K


def test_range_limits_where_a_node_may_go() -> None:
    mm = DrmMM(0, 16 * K)
    node = insert(mm, K, range_start=4 * K, range_end=8 * K)
    assert node.start == 4 * K
    with pytest.raises(ENOSPC):
        insert(mm, 8 * K, range_start=4 * K, range_end=8 * K)


def test_fixed_placement_reserves_exactly_that_range() -> None:
    mm = DrmMM(0, 16 * K)
    node = insert(mm, 2 * K, fixed_start=6 * K)
    assert (node.start, node.end) == (6 * K, 8 * K)
    assert insert(mm, 6 * K).start == 0
    assert insert(mm, K).start == 8 * K


@pytest.mark.parametrize(("start", "size", "error"), [
    (7 * K, 2 * K, ENOSPC),      # overlaps the node at [6K, 8K)
    (5 * K, 2 * K, ENOSPC),
    (15 * K, 2 * K, EINVAL),     # runs past the end
    (16 * K, K, EINVAL),
])
def test_fixed_placement_errors(start: int, size: int, error: type[Exception]) -> None:
    mm = DrmMM(0, 16 * K)
    insert(mm, 2 * K, fixed_start=6 * K)
    with pytest.raises(error):
        insert(mm, size, fixed_start=start)
    assert len(mm) == 1


def test_a_full_allocator_answers_enospc_and_changes_nothing() -> None:
    mm = DrmMM(0, 4 * K)
    insert(mm, 4 * K)
    with pytest.raises(ENOSPC):
        insert(mm, K)
    assert mm.used() == 4 * K


def test_zero_size_is_einval_and_double_insert_is_a_bug() -> None:
    mm = DrmMM(0, 4 * K)
    with pytest.raises(EINVAL):
        insert(mm, 0)
    node = insert(mm, K)
    with pytest.raises(SimBug):
        mm.insert(node, K)


def test_node_at_finds_the_containing_node_only() -> None:
    mm = DrmMM(0, 16 * K)
    a = insert(mm, 2 * K, fixed_start=4 * K)
    assert mm.node_at(4 * K) is a
    assert mm.node_at(6 * K - 1) is a
    assert mm.node_at(6 * K) is None
    assert mm.node_at(0) is None


def test_scan_evicts_only_the_candidates_in_the_chosen_hole() -> None:
    mm = DrmMM(0, 8 * K)
    nodes = [insert(mm, 2 * K) for _ in range(4)]       # full
    # LRU order: 3, 0, 1 -- node 3 alone leaves a 2K hole at the top: enough for 2K.
    victims = mm.scan(2 * K, 0, [nodes[3], nodes[0], nodes[1]])
    assert victims == [nodes[3]]
    # 4K needs two adjacent nodes: 3 is alone at the end, 0+1 together make the first hole.
    victims = mm.scan(4 * K, 0, [nodes[3], nodes[0], nodes[1]])
    assert victims == [nodes[0], nodes[1]]


def test_scan_answers_none_when_the_candidates_cannot_open_a_hole() -> None:
    mm = DrmMM(0, 8 * K)
    nodes = [insert(mm, 2 * K) for _ in range(4)]
    assert mm.scan(4 * K, 0, [nodes[0], nodes[2]]) is None
    assert len(mm) == 4                                  # the scan changed nothing


def test_overlapping_lists_every_node_in_a_range() -> None:
    mm = DrmMM(0, 16 * K)
    a, b, c = (insert(mm, 2 * K, fixed_start=s) for s in (0, 4 * K, 8 * K))
    assert mm.overlapping(K, 4 * K) == [a, b]
    assert mm.overlapping(2 * K, 2 * K) == []
    assert mm.overlapping(0, 16 * K) == [a, b, c]


def _first_fit(live: list[DrmMMNode], size: int, align: int, total: int) -> int | None:
    """The reference: try every aligned start from the bottom."""
    step = align or K
    for start in range(0, total - size + 1, step):
        if all(start + size <= n.start or n.end <= start for n in live):
            return start
    return None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 6), st.sampled_from([0, 2, 4])),
                max_size=40))
def test_nodes_never_overlap_and_stay_inside(ops: list[tuple[bool, int, int]]) -> None:
    mm = DrmMM(0, 32 * K)
    live: list[DrmMMNode] = []
    for remove, pages, align in ops:
        if remove and live:
            mm.remove(live.pop(pages % len(live)))
            continue
        expected = _first_fit(live, pages * K, align * K, 32 * K)
        try:
            live.append(insert(mm, pages * K, align * K))
        except ENOSPC:
            assert expected is None
        else:
            assert live[-1].start == expected
    spans = sorted((n.start, n.end) for n in live)
    assert all(0 <= s < e <= 32 * K for s, e in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert [n.start for n in mm.nodes()] == [s for s, _ in spans]
