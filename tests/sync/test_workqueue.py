"""Workqueue: items run on worker threads; flush, cancel, destroy; failures surface."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator

import pytest

from softgem.errors import SimBug
from softgem.sync import Mutex, Workqueue, lockdep

WAIT = 20.0


def _recorder(seen: list[tuple[int, str]], i: int) -> Callable[[], None]:
    return lambda: seen.append((i, threading.current_thread().name))


@pytest.fixture
def wq() -> Iterator[Workqueue]:
    q = Workqueue("t_wq")
    yield q
    if not q._draining:
        q.destroy()


def test_items_run_in_order_on_the_queues_worker_thread(wq: Workqueue) -> None:
    seen: list[tuple[int, str]] = []
    for i in range(5):
        wq.queue(_recorder(seen, i))
    wq.flush()
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {"kworker/t_wq:0"}


def test_flush_waits_for_items_queued_before_it(wq: Workqueue) -> None:
    gate, done = threading.Event(), []
    wq.queue(lambda: gate.wait(WAIT))
    wq.queue(lambda: done.append(1))
    threading.Timer(0.01, gate.set).start()
    wq.flush()
    assert done == [1]


def test_flush_does_not_wait_for_items_that_keep_requeueing(wq: Workqueue) -> None:
    runs = [0]

    def again() -> None:
        runs[0] += 1
        if runs[0] < 1000:
            wq.queue(again)

    wq.queue(again)
    wq.flush()          # returns although the chain is still going
    wq.destroy()        # drains the chain completely
    assert runs[0] == 1000


def test_cancel_stops_a_pending_item_but_not_a_running_one(wq: Workqueue) -> None:
    started, gate = threading.Event(), threading.Event()
    ran: list[str] = []

    def first() -> None:
        started.set()
        gate.wait(WAIT)
        ran.append("first")

    running = wq.queue(first)
    pending = wq.queue(lambda: ran.append("second"))
    started.wait(WAIT)
    assert pending.pending()
    assert pending.cancel() and pending.done()
    assert not pending.cancel()
    assert not running.cancel()
    gate.set()
    wq.flush()
    assert ran == ["first"] and running.done()


def test_an_exception_in_a_work_item_is_raised_by_the_next_flush(wq: Workqueue) -> None:
    def boom() -> None:
        raise KeyError("boom")

    wq.queue(boom)
    wq.queue(lambda: None)
    with pytest.raises(SimBug, match="1 work item") as info:
        wq.flush()
    assert isinstance(info.value.__cause__, KeyError)
    wq.flush()      # reported once


def test_destroy_drains_joins_and_raises_what_the_items_raised() -> None:
    q = Workqueue("t_destroy", workers=2)
    ran: list[int] = []
    for i in range(10):
        q.queue(functools.partial(ran.append, i))
    q.queue(lambda: 1 / 0)
    with pytest.raises(SimBug) as info:
        q.destroy()
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert sorted(ran) == list(range(10))
    assert not any(t.is_alive() for t in q._threads)
    with pytest.raises(SimBug):
        q.queue(lambda: None)
    with pytest.raises(SimBug):
        q.destroy()


def test_two_workers_run_two_items_at_once() -> None:
    q = Workqueue("t_two", workers=2)
    both = threading.Barrier(2, timeout=WAIT)
    q.queue(both.wait)
    q.queue(both.wait)
    q.destroy()         # a broken barrier would surface here


def test_flushing_from_the_queues_own_item_is_a_bug(wq: Workqueue) -> None:
    wq.queue(wq.flush)
    with pytest.raises(SimBug) as info:
        wq.flush()
    assert "own work item" in str(info.value.__cause__)


def test_waiting_for_a_work_item(wq: Workqueue) -> None:
    gate = threading.Event()
    work = wq.queue(lambda: gate.wait(WAIT))
    assert work.wait(0.01) is False
    gate.set()
    assert work.wait(WAIT) is True and work.done()


def test_an_item_returning_with_a_lock_held_is_a_bug(wq: Workqueue) -> None:
    m = Mutex("t_leak.m")
    wq.queue(m.lock)
    with pytest.raises(SimBug, match="1 work item") as info:
        wq.flush()
    assert "t_leak.m" in str(info.value.__cause__)


def test_flushing_while_holding_a_lock_an_item_takes_is_a_cycle(wq: Workqueue) -> None:
    m = Mutex("t_wqdep.m")

    def item() -> None:
        with m:
            pass

    wq.queue(item)
    wq.flush()
    with lockdep.expect_reports("cycle") as caught, m:
        wq.flush()          # nothing queued, so no deadlock this time; still a bug
    assert "workqueue.t_wq" in caught[0].message
