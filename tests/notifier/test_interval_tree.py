"""The interval index agrees with a brute-force list, on half-open boundaries too."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from softgem.errors import SimBug
from softgem.notifier import IntervalNode, IntervalTree


def brute(nodes: list[IntervalNode], start: int, end: int) -> list[IntervalNode]:
    return [n for n in nodes if n.start < end and start < n.end]


def ids(nodes: list[IntervalNode]) -> list[int]:
    return [id(n) for n in nodes]


@pytest.mark.parametrize(("query", "hit"), [
    ((0x1000, 0x2000), True),     # the interval itself
    ((0x0, 0x1000), False),       # ends exactly where it starts
    ((0x2000, 0x3000), False),    # starts exactly where it ends
    ((0x1fff, 0x2000), True),     # its last byte
    ((0x0, 0x1001), True),        # its first byte
    ((0x0, 0x10000), True),       # a range covering it
    ((0x1800, 0x1801), True),     # one byte inside
])
def test_intervals_are_half_open(query: tuple[int, int], hit: bool) -> None:
    tree: IntervalTree[IntervalNode] = IntervalTree()
    node = IntervalNode(0x1000, 0x2000)
    tree.insert(node)
    assert (tree.overlapping(*query) == [node]) is hit


def test_adjacent_intervals_do_not_overlap_each_other() -> None:
    tree: IntervalTree[IntervalNode] = IntervalTree()
    a, b = IntervalNode(0x1000, 0x2000), IntervalNode(0x2000, 0x3000)
    tree.insert(a)
    tree.insert(b)
    assert tree.overlapping(0x1000, 0x2000) == [a]
    assert tree.overlapping(0x2000, 0x3000) == [b]
    assert tree.overlapping(0x1fff, 0x2001) == [a, b]


def test_hits_come_in_start_then_insertion_order_across_length_classes() -> None:
    tree: IntervalTree[IntervalNode] = IntervalTree()
    big = IntervalNode(0x0, 0x100000)
    small2 = IntervalNode(0x3000, 0x4000)
    small1 = IntervalNode(0x2000, 0x3000)
    twin = IntervalNode(0x2000, 0x3000)
    for n in (big, small2, small1, twin):
        tree.insert(n)
    assert tree.overlapping(0x0, 0x10000) == [big, small1, twin, small2]
    assert list(tree) == [big, small1, twin, small2]


@pytest.mark.parametrize(("start", "end"), [(0x1000, 0x1000), (0x2000, 0x1000), (-1, 5)])
def test_an_empty_inverted_or_negative_interval_is_a_bug(start: int, end: int) -> None:
    tree: IntervalTree[IntervalNode] = IntervalTree()
    with pytest.raises(SimBug):
        tree.insert(IntervalNode(start, end))


def test_double_insert_and_foreign_remove_are_bugs() -> None:
    tree: IntervalTree[IntervalNode] = IntervalTree()
    node = IntervalNode(0, 0x1000)
    tree.insert(node)
    with pytest.raises(SimBug):
        tree.insert(node)
    with pytest.raises(SimBug):
        tree.remove(IntervalNode(0, 0x1000))
    other: IntervalTree[IntervalNode] = IntervalTree()
    with pytest.raises(SimBug):
        other.remove(node)
    tree.remove(node)
    assert not node.in_tree and len(tree) == 0 and not tree


def test_thousands_of_inserts_and_removes_split_and_merge_chunks_correctly() -> None:
    rng = random.Random(7)
    tree: IntervalTree[IntervalNode] = IntervalTree()
    nodes = []
    for _ in range(5000):                   # one length class, many chunks, equal starts
        start = rng.randrange(0, 3000) * 0x1000
        node = IntervalNode(start, start + 0x10000)
        tree.insert(node)
        nodes.append(node)
    rng.shuffle(nodes)
    for i, node in enumerate(nodes):
        if i % 500 == 0:
            q = rng.randrange(0, 3000) * 0x1000
            assert set(ids(tree.overlapping(q, q + 0x1000))) == set(
                ids(brute(nodes[i:], q, q + 0x1000)))
        tree.remove(node)
    assert len(tree) == 0


def test_one_huge_interval_does_not_hide_or_slow_the_small_ones() -> None:
    tree: IntervalTree[IntervalNode] = IntervalTree()
    huge = IntervalNode(0, 1 << 47)
    smalls = [IntervalNode(i * 0x20000, i * 0x20000 + 0x10000) for i in range(100)]
    for n in [huge, *smalls]:
        tree.insert(n)
    assert tree.overlapping(0x10000, 0x11000) == [huge]
    assert tree.overlapping(0x20000, 0x21000) == [huge, smalls[1]]


sizes = st.one_of(st.integers(1, 0x100), st.integers(1, 1 << 20), st.just(1 << 40))
intervals = st.tuples(st.integers(0, 1 << 21), sizes)


class IndexMachine(RuleBasedStateMachine):
    """Random inserts, removes and queries, checked against a list."""

    def __init__(self) -> None:
        super().__init__()
        self.tree: IntervalTree[IntervalNode] = IntervalTree()
        self.model: list[IntervalNode] = []

    @rule(iv=intervals)
    def insert(self, iv: tuple[int, int]) -> None:
        node = IntervalNode(iv[0], iv[0] + iv[1])
        self.tree.insert(node)
        self.model.append(node)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        node = self.model.pop(data.draw(st.integers(0, len(self.model) - 1)))
        self.tree.remove(node)

    @rule(iv=intervals)
    def query(self, iv: tuple[int, int]) -> None:
        start, end = iv[0], iv[0] + iv[1]
        got = self.tree.overlapping(start, end)
        want = sorted(brute(self.model, start, end), key=lambda n: n.start)
        assert set(ids(got)) == set(ids(want))
        assert [n.start for n in got] == [n.start for n in want]

    @invariant()
    def sizes_agree(self) -> None:
        assert len(self.tree) == len(self.model)


IndexMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=50,
                                          deadline=None)
TestIndexAgainstBruteForce = IndexMachine.TestCase


@settings(max_examples=40, deadline=None)
@given(st.lists(intervals, max_size=200), st.lists(intervals, max_size=30))
def test_bulk_queries_match_brute_force(ivs: list[tuple[int, int]],
                                        queries: list[tuple[int, int]]) -> None:
    tree: IntervalTree[IntervalNode] = IntervalTree()
    nodes = [IntervalNode(s, s + n) for s, n in ivs]
    for node in nodes:
        tree.insert(node)
    for s, n in queries:
        assert set(ids(tree.overlapping(s, s + n))) == set(ids(brute(nodes, s, s + n)))
