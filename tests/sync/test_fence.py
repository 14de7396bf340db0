"""Fence: wait, timeout, callbacks, errors, timelines, and its lockdep annotations."""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable

import pytest
from sync_threads import Threads

from softgem.errors import SimBug
from softgem.sync import (
    Fence,
    Mutex,
    fence_begin_signalling,
    fence_context_alloc,
    fence_end_signalling,
    lockdep,
)

WAIT = 20.0


def _ignore(f: Fence) -> None:
    pass


def _lock_and_unlock(m: Mutex) -> None:
    with m:
        pass


def test_a_waiter_sleeps_until_another_thread_signals(threads: Threads) -> None:
    fence = Fence("t_wait")
    got: list[bool] = []
    threads.start(lambda: got.append(fence.wait(WAIT)), "waiter")
    assert fence.signal()
    threads.join()
    assert got == [True] and fence.signaled()


def test_a_wait_on_an_unsignalled_fence_times_out() -> None:
    fence = Fence("t_timeout")
    assert fence.wait(0.01) is False
    assert fence.wait(0) is False


def test_signalling_twice_reports_that_it_already_was() -> None:
    fence = Fence("t_twice")
    assert fence.signal()
    assert not fence.signal()
    assert fence.wait(0)


def test_callbacks_run_once_in_order_in_the_signalling_thread(threads: Threads) -> None:
    fence = Fence("t_cb")
    calls: list[tuple[str, str]] = []

    def record(tag: str) -> Callable[[Fence], None]:
        return lambda f: calls.append((tag, threading.current_thread().name))

    assert fence.add_callback(record("first"))
    assert fence.add_callback(record("second"))
    threads.run(fence.signal, "signaller")
    fence.signal()
    assert calls == [("first", "signaller"), ("second", "signaller")]


def test_a_callback_added_after_the_signal_is_refused_and_never_called() -> None:
    fence = Fence("t_cb_late")
    fence.signal()
    calls: list[Fence] = []
    assert not fence.add_callback(calls.append)
    assert calls == []


def test_a_removed_callback_is_not_called() -> None:
    fence = Fence("t_cb_remove")
    calls: list[Fence] = []
    fence.add_callback(calls.append)
    assert fence.remove_callback(calls.append)
    assert not fence.remove_callback(calls.append)
    fence.signal()
    assert calls == []


def test_a_callback_may_take_locks_because_none_are_held_around_it() -> None:
    fence = Fence("t_cb_lock")
    m = Mutex("t_cb_lock.m")
    fence.add_callback(lambda f: _lock_and_unlock(m))
    fence.add_callback(lambda f: f.add_callback(_ignore))   # re-entry
    fence.signal()
    assert lockdep.reports() == []


def test_a_failing_callback_does_not_stop_the_others_or_the_waiters() -> None:
    fence = Fence("t_cb_fail")
    calls: list[str] = []

    def bad(f: Fence) -> None:
        raise KeyError("boom")

    fence.add_callback(bad)
    fence.add_callback(lambda f: calls.append("after"))
    with pytest.raises(SimBug) as info:
        fence.signal()
    assert isinstance(info.value.__cause__, KeyError)
    assert calls == ["after"] and fence.wait(0)


def test_an_error_set_before_the_signal_is_reported_with_it() -> None:
    fence = Fence("t_err")
    assert fence.error == 0
    fence.set_error(errno.EIO)
    fence.signal()
    assert fence.error == errno.EIO


@pytest.mark.parametrize("bad", ["after signal", "zero", "negative"])
def test_set_error_misuse_is_a_bug(bad: str) -> None:
    fence = Fence("t_err_bad")
    if bad == "after signal":
        fence.signal()
    code = {"after signal": errno.EIO, "zero": 0, "negative": -errno.EIO}[bad]
    with pytest.raises(SimBug):
        fence.set_error(code)


def test_fences_on_one_timeline_are_ordered_by_seqno() -> None:
    ctx = fence_context_alloc()
    early, late = Fence("t_tl", context=ctx, seqno=1), Fence("t_tl", context=ctx, seqno=2)
    elsewhere = Fence("t_tl", seqno=3)
    assert late.is_later(early) and not early.is_later(late)
    assert not elsewhere.is_later(early)
    assert elsewhere.context != ctx


def test_context_alloc_hands_out_disjoint_ranges() -> None:
    first = fence_context_alloc(3)
    second = fence_context_alloc()
    assert second >= first + 3


def test_holding_a_lock_taken_in_a_signalling_section_while_waiting_is_a_cycle() -> None:
    m = Mutex("t_fmap.m")
    cookie = fence_begin_signalling()
    with m:                                  # the signalling path needs m ...
        pass
    fence_end_signalling(cookie)
    fence = Fence("t_fmap")
    fence.signal()
    with lockdep.expect_reports("cycle") as caught, m:
        fence.wait()                         # ... so waiting with m held can deadlock
    assert "dma_fence_map" in caught[0].message


def test_a_callback_that_takes_a_lock_held_by_a_waiter_is_a_cycle() -> None:
    m = Mutex("t_fmap_cb.m")
    first = Fence("t_fmap_cb")
    first.add_callback(lambda f: _lock_and_unlock(m))
    first.signal()
    with lockdep.expect_reports("cycle"), m:
        Fence("t_fmap_cb2", seqno=1).wait(0)


def test_signalling_from_a_callback_nests_without_a_report() -> None:
    inner, outer = Fence("t_chain.inner"), Fence("t_chain.outer")
    outer.add_callback(lambda f: inner.signal())
    outer.signal()
    assert inner.signaled()
    assert lockdep.reports() == []
