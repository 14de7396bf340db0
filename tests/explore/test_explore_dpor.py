"""The reduced search (``dpor``: preemption-bounded DFS with sleep sets) against plain DFS.

The reduction must lose nothing the checkers can see: on small programs and small catalog
scenarios, every schedule of the plain tree (no reduction) is enumerated, and the set of
outcomes (end state or failure kind) of the reduced search is the same; planted bugs are
still found; replay tokens reproduce.  The GPU planted bugs under dpor, and the expensive
catalog scenarios' K=2 trees, run with ``SOFTGEM_EXPLORE_FULL=1`` (and
``python3 -m softgem.bench.explore_bounds``; figures in docs/explore.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from softgem import explore
from softgem.bench.explore_bounds import CHEAP
from softgem.explore.campaign import make_strategy, run_schedule
from softgem.explore.dpor import DporStrategy, is_global
from softgem.scenarios import get
from softgem.sync import Completion, Kref, Mutex

FULL = os.environ.get("SOFTGEM_EXPLORE_FULL") == "1"
_GLOBAL = Mutex("tx.module_level")
_out: list[object] = []


def three_locks() -> None:
    """Three tasks append to per-lock logs; two share lock a, one works alone on c."""
    a, b, c = Mutex("tx.a"), Mutex("tx.b"), Mutex("tx.c")
    logs: dict[str, list[str]] = {"a": [], "b": [], "c": []}

    def worker(name: str, first: Mutex, fk: str, second: Mutex, sk: str) -> Callable[[], None]:
        def run() -> None:
            with first:
                logs[fk].append(name)
            with second:
                logs[sk].append(name)
        return run

    explore.spawn(worker("x", a, "a", b, "b"), "x")
    explore.spawn(worker("y", b, "b", a, "a"), "y")
    explore.spawn(worker("z", c, "c", c, "c"), "z")
    explore.join_all()
    _out.append(tuple((k, tuple(v)) for k, v in sorted(logs.items())))


def racy_pair() -> None:
    """A lost update through explicit points (global), next to lock traffic."""
    box = [0]
    m = Mutex("tx.m")

    def inc() -> None:
        with m:
            pass
        v = box[0]
        explore.point("read box")
        box[0] = v + 1

    explore.spawn(inc, "a")
    explore.spawn(inc, "b")
    explore.join_all()
    _out.append(box[0])


def signal_and_wait() -> None:
    """A waiter (wait_event: global) and a signaller that also drops a reference."""
    done = Completion("tx.done")
    ref = Kref()
    seen: list[str] = []
    m = Mutex("tx.seen")

    def waiter() -> None:
        done.wait()
        with m:
            seen.append("waiter")

    def signaller() -> None:
        ref.get()
        with m:
            seen.append("signaller")
        done.complete_all()
        ref.put(lambda: None)

    explore.spawn(waiter, "waiter")
    explore.spawn(signaller, "signaller")
    explore.join_all()
    _out.append(tuple(seen))


def abba_maybe() -> None:
    a, b = Mutex("tx.p"), Mutex("tx.q")

    def one() -> None:
        with a, b:
            pass

    def two() -> None:
        with b, a:
            pass

    explore.spawn(one, "one")
    explore.spawn(two, "two")
    explore.join_all()
    _out.append("joined")


def outcomes(body: Callable[[], object], strategy: str, k: int,
             check_lockdep: bool = False) -> tuple[set[object], int, int]:
    """Every end state / failure kind the strategy's whole tree reaches; runs; pruned."""
    strat = make_strategy(strategy, seeds=[], depth=3, preemptions=k)
    seen: set[object] = set()
    runs = 0
    while strat.new_execution():
        _out.clear()
        ex, failure = run_schedule(body, strat, check_lockdep=check_lockdep)
        strat.finish(ex)
        runs += 1
        if failure is not None and failure.kind == "pruned":
            continue
        seen.add(failure.kind if failure is not None else _out[-1] if _out else None)
    assert strat.exhausted
    return seen, runs, getattr(strat, "pruned", 0)


@pytest.mark.parametrize("body", [three_locks, racy_pair, signal_and_wait, abba_maybe])
@pytest.mark.parametrize("k", [1, 2])
def test_reduced_search_reaches_every_outcome_of_plain_dfs(body: Callable[[], None],
                                                           k: int) -> None:
    plain, plain_runs, _ = outcomes(body, "dfs-plain", k)
    reduced, runs, _ = outcomes(body, "dpor", k)
    assert reduced == plain
    assert runs <= plain_runs


def signature(ex: object) -> frozenset[tuple[tuple[int, int], tuple[int, int]]]:
    """The schedule's equivalence class: the order of every pair of dependent transitions
    (a transition ``(task, i)`` runs from its pending operation to its next arrival).  This
    is stricter than the search's own test (arrivals count on both sides)."""
    pend: dict[int, tuple[str, int]] = {}
    count: dict[int, int] = {}
    steps = []
    for tid, kind, n in ex.trace:       # type: ignore[attr-defined]
        before = pend.get(tid, ("start", -2 - tid))
        i = count.get(tid, 0)
        count[tid] = i + 1
        steps.append((tid, i, before, (kind, n)))
        pend[tid] = (kind, n)
    out = set()
    for a, (t1, i1, b1, a1) in enumerate(steps):
        wide = is_global(*b1) or is_global(*a1)
        keys = {b1[1], a1[1]}
        for t2, i2, b2, a2 in steps[a + 1:]:
            if t1 != t2 and (wide or is_global(*b2) or is_global(*a2)
                             or keys & {b2[1], a2[1]}):
                out.add(((t1, i1), (t2, i2)))
    return frozenset(out)


def classes(body: Callable[[], object], strategy: str, k: int) -> set[frozenset[object]]:
    strat = make_strategy(strategy, seeds=[], depth=3, preemptions=k)
    out: set[frozenset[object]] = set()
    while strat.new_execution():
        ex, failure = run_schedule(body, strat, check_lockdep=False)
        strat.finish(ex)
        if failure is None or failure.kind != "pruned":
            out.add(signature(ex))
    return out


@pytest.mark.parametrize("body", [three_locks, racy_pair, signal_and_wait, abba_maybe])
@pytest.mark.parametrize("k", [1, 2])
def test_every_class_of_plain_dfs_schedules_has_an_explored_member(body: Callable[[], None],
                                                                   k: int) -> None:
    """The guarantee itself: each schedule within K preemptions is equivalent to one the
    reduced search ran (fails, e.g., if asleep tasks are never woken)."""
    assert classes(body, "dfs-plain", k) <= classes(body, "dpor", k)


def test_sleep_sets_cut_the_independent_interleavings() -> None:
    _, plain_runs, _ = outcomes(three_locks, "dfs-plain", 2)
    _, runs, pruned = outcomes(three_locks, "dpor", 2)
    assert runs - pruned < plain_runs / 2 and pruned > 0


def test_the_independence_relation_is_conservative() -> None:
    assert not is_global("mutex.lock", 3) and not is_global("fence.signal", 3)
    for kind in ("wait_event", "flush_workqueue", "gpu.access", "backoff.pause", "made.up"):
        assert is_global(kind, 3)
    assert is_global("mutex.lock", -1)          # no object: an explicit point
    assert is_global("mutex.lock", 3, timed=True)


@pytest.mark.parametrize("name", CHEAP[:1] if not FULL else CHEAP)
def test_catalog_scenario_keeps_its_verdicts_under_reduction(name: str) -> None:
    plain, plain_runs, _ = outcomes(get(name).body, "dfs-plain", 2)
    reduced, runs, pruned = outcomes(get(name).body, "dpor", 2)
    assert reduced == plain == {None}
    assert runs - pruned < plain_runs


@pytest.mark.parametrize("name", CHEAP)
def test_cheap_catalog_scenarios_are_clean_within_two_preemptions_exhaustively(
        name: str) -> None:
    r = explore.explore(get(name), "dpor", preemptions=2)
    assert not r.failed, f"{r.kind}: {r.message}\n{r.token}"
    assert r.guarantee.startswith("DPOR complete within 2 preemptions"), r.guarantee


def test_dpor_token_replays_the_same_failure_and_shrinks() -> None:
    r = explore.explore(racy_counter_assert, "dpor", preemptions=1, check_lockdep=False)
    assert r.failed and r.kind == "assertion" and r.original_token.startswith("dpor:k1:")
    again = explore.replay(racy_counter_assert, r.original_token, check_lockdep=False)
    assert again.failed and again.kind == "assertion"
    assert explore.replay(racy_counter_assert, r.original_token,
                          check_lockdep=False).trace == again.trace


def racy_counter_assert() -> None:
    box = [0]

    def inc() -> None:
        v = box[0]
        explore.point("read counter")
        box[0] = v + 1

    explore.spawn(inc, "a")
    explore.spawn(inc, "b")
    explore.join_all()
    assert box[0] == 2, f"lost update: {box[0]}"


# bug, scenario, K, dpor schedules within which it is found (measured: docs/explore.md)
PLANTED = [
    ("free-while-walked", "stress-mm-invalidate-close", 1, 5),
    ("no-read-retry", "map-fixed-invalidate", 1, 1000),
    ("no-seq-mark", "map-fixed-invalidate", 1, 1000),
    ("lock-in-notifier", "invalidate-vs-busy-revalidate", 1, 3000),
]


@pytest.mark.parametrize(("bug", "name", "k", "within"),
                         PLANTED if FULL else PLANTED[:1])
def test_planted_bug_is_still_found_by_the_reduced_search(bug: str, name: str, k: int,
                                                          within: int) -> None:
    scen = get(f"{name}+{bug}")
    r = explore.explore(scen, "dpor", preemptions=k, schedules=within, shrink=False)
    assert r.failed, f"{bug} not found within {within} dpor schedules"
    again = explore.replay(scen, r.token)
    assert again.failed and again.kind == r.kind


def test_dpor_split_over_two_jobs_covers_the_same_tree() -> None:
    scen = get(CHEAP[0])
    one = explore.explore(scen, "dpor", preemptions=2, check_lockdep=False)
    two = explore.explore(scen, "dpor", preemptions=2, jobs=2, check_lockdep=False)
    assert one.schedules == two.schedules and one.pruned == two.pruned
    assert "complete" in two.guarantee


def _traces(strategy: str, body: Callable[[], object], split: tuple[int, int],
            claim: Callable[[int], bool] | None = None) -> list[str]:
    strat = make_strategy(strategy, seeds=[], depth=3, preemptions=2, split=split,
                          claim=claim)
    out = []
    while strat.new_execution():
        ex, failure = run_schedule(body, strat, check_lockdep=False)
        strat.finish(ex)
        if failure is None or failure.kind != "pruned":
            out.append(repr(ex.trace))
    assert strat.exhausted
    return out


@pytest.mark.parametrize("strategy", ["dpor", "dfs-plain"])
def test_subtrees_dealt_by_hash_partition_the_tree(strategy: str) -> None:
    """Each worker runs the default path to find the roots; worker 0 alone keeps it."""
    body = get("fork-vs-validate").body
    whole = _traces(strategy, body, (0, 1))
    parts = [_traces(strategy, body, (j, 3)) for j in range(3)]
    assert parts[1][0] == parts[2][0] == whole[0]           # the default path, run again
    kept = parts[0] + parts[1][1:] + parts[2][1:]
    assert sorted(kept) == sorted(whole)
    assert sum(len(p) > 1 for p in parts) >= 2          # shared out, not all to one


def test_subtrees_claimed_as_reached_partition_the_tree() -> None:
    """Local workers take the next root nobody has reached (a shared counter): whatever
    the timing, each root goes to exactly one worker.  Here worker 1 runs after worker 0
    took every third root, then worker 2 takes what is left."""
    body = get("stress-mm-invalidate-close").body
    whole = _traces("dpor", body, (0, 1))
    taken = [0]

    def claim_every_third(root: int) -> bool:
        if root < taken[0] or root % 3:
            return False
        taken[0] = root + 1
        return True

    def claim_rest(root: int) -> bool:
        return root not in mine

    mine: set[int] = set()
    seen: list[int] = []

    def record(root: int) -> bool:
        ok = claim_every_third(root)
        if ok:
            mine.add(root)
        seen.append(root)
        return ok

    first = _traces("dpor", body, (0, 2), claim=record)
    second = _traces("dpor", body, (1, 2), claim=claim_rest)
    assert mine and len(mine) < len(set(seen))
    assert sorted(first + second[1:]) == sorted(whole)


def test_dpor_strategy_is_a_dfs_with_its_own_token_kind() -> None:
    strat = DporStrategy(2)
    assert strat.name == "dpor" and strat.token().startswith("dpor:k2:")


def test_an_execution_unwound_at_an_unlock_point_still_releases_the_lock() -> None:
    """Abandoned or failed executions unwind tasks wherever they stand; a module-level lock
    (like gem.mman's) must come out free, or the next schedule in the process breaks."""
    def body() -> None:
        def holder() -> None:
            with _GLOBAL:
                explore.point("inside")

        explore.spawn(holder, "holder")
        explore.spawn(lambda: explore.fail("assertion", "stop here"), "stopper")
        explore.join_all()

    r = explore.explore(body, "dfs-plain", preemptions=2, check_lockdep=False, shrink=False)
    assert r.failed
    for k in range(3):      # every stopping place, the unlock point among them
        strat = make_strategy("dfs-plain", seeds=[], depth=3, preemptions=k)
        while strat.new_execution():
            ex, _ = run_schedule(body, strat, check_lockdep=False)
            assert not _GLOBAL.is_locked(), ex.trace_text()


def test_jobs_two_claims_chunks_of_seeds_and_stops_on_a_failure() -> None:
    clean = explore.explore(three_locks, "pct", schedules=37, jobs=2, check_lockdep=False)
    assert clean.schedules == 37 and not clean.failed
    bad = explore.explore(racy_counter_assert, "random", schedules=400, jobs=2,
                          check_lockdep=False, shrink=False)
    assert bad.failed and bad.kind == "assertion" and bad.schedules < 400
    assert explore.replay(racy_counter_assert, bad.token, check_lockdep=False).failed


def test_the_bookkeeping_sees_transitions_in_the_order_they_ran() -> None:
    """A task's end is accounted for before any transition that ran after it: the end can
    wake sleepers (or be a sleeper's forced run).  The search once learnt of an end only at
    the next real choice, after the other tasks' steps in between (forced steps ask no
    strategy), and so missed redundant paths (stress-mm-invalidate-close: 252 schedules
    where 249 are needed)."""
    body = get("stress-mm-invalidate-close").body
    strat = DporStrategy(2)
    order: list[int] = []
    ran = strat._ran

    def logged(tid: int, arrival: tuple[str, int] | None, ex: object) -> None:
        order.append(strat._seen - 1 if arrival is not None else ex.tasks[tid].end)  # type: ignore[attr-defined]
        ran(tid, arrival, ex)

    strat._ran = logged  # type: ignore[method-assign]
    runs = 0
    while strat.new_execution():
        order.clear()
        ex, _ = run_schedule(body, strat, check_lockdep=False)
        strat.finish(ex)
        runs += 1
        assert order == sorted(order), f"execution {runs}: processed out of order"
    assert strat.completed() == 249
