"""The explorer's runtime and strategies on tiny programs over softgem.sync."""

from __future__ import annotations

import threading

import pytest

from softgem import explore
from softgem.explore import tokens
from softgem.sync import Completion, Mutex, WaitQueue, clock


def abba() -> None:
    a, b = Mutex("tx.a"), Mutex("tx.b")

    def one() -> None:
        with a, b:
            pass

    def two() -> None:
        with b, a:
            pass

    explore.spawn(one, "one")
    explore.spawn(two, "two")
    explore.join_all()


def counter() -> None:
    """Two tasks increment a shared field under a lock, reading it at an explicit point."""
    m = Mutex("tx.counter")
    box = [0]

    def inc() -> None:
        with m:
            v = box[0]
            explore.point("read counter")
            box[0] = v + 1

    explore.spawn(inc, "a")
    explore.spawn(inc, "b")
    explore.join_all()
    assert box[0] == 2


def racy_counter() -> None:
    box = [0]

    def inc() -> None:
        v = box[0]
        explore.point("read counter")
        box[0] = v + 1

    explore.spawn(inc, "a")
    explore.spawn(inc, "b")
    explore.join_all()
    assert box[0] == 2, f"lost update: {box[0]}"


@pytest.mark.parametrize("strategy", ["random", "pct", "dfs"])
def test_every_strategy_finds_the_abba_deadlock_with_its_cycle(strategy: str) -> None:
    r = explore.explore(abba, strategy, schedules=500, check_lockdep=False)
    assert r.failed and r.kind == "deadlock"
    assert "task one waits for Mutex tx.a held by two" in r.message or \
        "task two waits for Mutex tx.b held by one" in r.message or \
        "waits for Mutex tx.b held by two" in r.message, r.message
    again = explore.replay(abba, r.token, check_lockdep=False)
    assert again.failed and again.kind == "deadlock" and again.trace == r.trace


def test_lockdep_reports_the_abba_order_on_a_schedule_that_does_not_deadlock() -> None:
    r = explore.explore(abba, "pct", schedules=1)
    assert r.failed and r.kind == "lockdep" and "circular locking" in r.message


def test_dfs_is_complete_within_its_bound_and_counts_schedules() -> None:
    clean = explore.explore(counter, "dfs", preemptions=2)
    assert not clean.failed and "complete within 2 preemptions" in clean.guarantee
    n0 = explore.explore(counter, "dfs", preemptions=0).schedules
    n1 = explore.explore(counter, "dfs", preemptions=1).schedules
    assert n0 < n1 < clean.schedules
    bug = explore.explore(racy_counter, "dfs", preemptions=1)
    assert bug.failed and bug.kind == "assertion" and "lost update" in bug.message


def test_pct_prints_its_bound() -> None:
    r = explore.explore(counter, "pct", schedules=50, depth=2)
    assert "1/(n*k^(d-1))" in r.guarantee and "d=2" in r.guarantee
    assert explore.pct_bound(3, 100, 3) == pytest.approx(1 / 30000)


def test_same_seed_same_trace_over_ten_runs() -> None:
    traces = {explore.replay(counter, "pct:d3:k100:s42").trace for _ in range(10)}
    assert len(traces) == 1
    traces = {explore.replay(counter, "random:s7").trace for _ in range(10)}
    assert len(traces) == 1


def test_tokens_round_trip_byte_identical_traces_over_many_seeds() -> None:
    seen = set()
    for s in range(60):
        tok = f"random:s{s}"
        a = explore.replay(racy_counter, tok, check_lockdep=False)
        b = explore.replay(racy_counter, tok, check_lockdep=False)
        assert a.trace == b.trace and a.failed == b.failed
        seen.add(a.trace)
    assert len(seen) > 1            # the seeds really give different interleavings


def test_choice_lists_encode_and_decode() -> None:
    devs = [(0, 1), (5, 2), (300, 0), (301, 7)]
    assert tokens.decode_choices(tokens.encode_choices(devs)) == devs
    assert tokens.decode_choices(tokens.encode_choices([])) == []
    with pytest.raises(ValueError):
        tokens.parse("bogus:s1")


def test_failures_are_shrunk_to_few_deviations() -> None:
    r = explore.explore(racy_counter, "random", schedules=200, check_lockdep=False)
    assert r.failed and r.token.startswith("replay:")
    _, _, rest = tokens.parse(r.token)
    assert len(tokens.decode_choices(rest)) <= 2


def test_virtual_time_advances_only_when_all_block_and_no_real_thread_runs() -> None:
    seen: list[float] = []
    threads_before = threading.active_count()

    def body() -> None:
        wq = WaitQueue("tx.timeout")
        done = Completion("tx.done")
        t0 = clock.monotonic()
        explore.spawn(lambda: done.wait(), "waiter")
        assert not wq.wait_event(lambda: False, timeout=30.0)   # 30 virtual seconds
        seen.append(clock.monotonic() - t0)
        seen.append(threading.active_count())
        done.complete_all()
        explore.join_all()

    r = explore.explore(body, "pct", schedules=3)
    assert not r.failed, r.message
    assert seen[0] == pytest.approx(30.0) and seen[1] == threads_before


def test_an_unfinished_wait_is_a_deadlock_naming_the_waiter() -> None:
    def body() -> None:
        c = Completion("tx.never")
        explore.spawn(lambda: c.wait(), "sleeper")

    r = explore.explore(body, "random", schedules=1)
    assert r.failed and r.kind == "deadlock" and "task sleeper waits" in r.message


def test_livelock_budget() -> None:
    def body() -> None:
        while True:
            explore.point("spin")

    r = explore.explore(body, "random", schedules=1, max_steps=500, shrink=False)
    assert r.failed and r.kind == "livelock"


def test_outside_an_exploration_nothing_changed() -> None:
    assert not explore.exploring()
    m = Mutex("tx.plain")
    with m:
        assert m.held_by_me()
        assert m._owner == threading.get_ident()    # real threads keep their own identity


@explore.explored(strategy="dfs", preemptions=2)
def test_the_explored_decorator_makes_a_scenario_a_test() -> None:
    counter()


def test_assert_clean_reports_token_and_steps() -> None:
    with pytest.raises(AssertionError) as info:
        explore.assert_clean(racy_counter, strategy="dfs", preemptions=1, check_lockdep=False)
    text = str(info.value)
    assert "lost update" in text and "replay:" in text and "read counter" in text
