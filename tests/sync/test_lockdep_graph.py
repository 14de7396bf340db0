"""The dependency graph reports a cycle exactly when the observed orders contain one."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from softgem.sync import Mutex, lockdep
from softgem.sync.lockdep_graph import LockGraph
from softgem.sync.lockdep_held import Chain

N_CLASSES = 5
LOCKS = [Mutex(f"t_prop.{i}") for i in range(N_CLASSES)]

# One "critical section": distinct locks taken nested, in list order.
sections = st.lists(st.integers(0, N_CLASSES - 1), min_size=1, max_size=4, unique=True)


def _has_cycle(edges: set[tuple[int, int]]) -> bool:
    """Brute force: a cycle exists iff some node reaches itself in the transitive closure."""
    reach = {i: {j for a, j in edges if a == i} for i in range(N_CLASSES)}
    for _ in range(N_CLASSES):
        for i in range(N_CLASSES):
            reach[i] |= {k for j in reach[i] for k in reach[j]}
    return any(i in reach[i] for i in range(N_CLASSES))


@settings(max_examples=150, deadline=None)
@given(st.lists(sections, min_size=1, max_size=8))
def test_a_cycle_is_reported_iff_the_union_of_observed_orders_is_cyclic(
        runs: list[list[int]]) -> None:
    lockdep.reset()
    for run in runs:
        for i in run:
            LOCKS[i].lock()
        for i in reversed(run):
            LOCKS[i].unlock()
    reported = [r for r in lockdep.reports() if r.kind == "cycle"]
    observed = {(r[a], r[b]) for r in runs for a, b in combinations(range(len(r)), 2)}
    lockdep.clear_reports()
    assert bool(reported) == _has_cycle(observed)


def _chain() -> Chain:
    return Chain("t", (), "x", ())


def _const(chain: Chain) -> Callable[[], Chain]:
    return lambda: chain


def test_the_reported_path_is_a_shortest_one_and_keeps_each_edges_first_chain() -> None:
    g = LockGraph()
    a, b, c, d = (("a", 0), ("b", 0), ("c", 0), ("d", 0))
    for prev, nxt in [(a, b), (b, c), (c, d), (a, d)]:
        evidence = Chain(f"{prev[0]}{nxt[0]}", (), "", ())
        assert g.add(prev, nxt, _const(evidence)) is None
    cycle = g.add(d, a, _chain)
    assert cycle is not None
    assert cycle.path == (a, d)
    assert [ch.thread for ch in cycle.path_chains] == ["ad"]
    assert g.add(d, a, _chain) is None          # reported once
    assert (d, a) not in g.edges()              # and never recorded


def test_subclasses_are_distinct_nodes() -> None:
    g = LockGraph()
    assert g.add(("obj", 0), ("obj", 1), _chain) is None
    assert g.add(("obj", 1), ("obj", 0), _chain) is not None
