"""Srcu: a grace period waits for earlier readers only."""

from __future__ import annotations

from notifier_helpers import Worker

from softgem.notifier.srcu import Srcu


def test_synchronize_with_no_readers_returns_at_once() -> None:
    Srcu("test.srcu.idle").synchronize()


def test_synchronize_waits_for_a_reader_that_started_before_it() -> None:
    srcu = Srcu("test.srcu.wait")
    idx = srcu.read_lock()
    sync = Worker(srcu.synchronize)
    assert sync.blocked()
    srcu.read_unlock(idx)
    sync.result()


def test_synchronize_does_not_wait_for_readers_that_started_after_it() -> None:
    srcu = Srcu("test.srcu.later")
    early = srcu.read_lock()
    sync = Worker(srcu.synchronize)
    assert sync.blocked()
    late = srcu.read_lock()              # enters the new counter
    srcu.read_unlock(early)
    sync.result()                        # returns although `late` is still inside
    second = Worker(srcu.synchronize)
    assert second.blocked()              # ...but the next grace period waits for it
    srcu.read_unlock(late)
    second.result()
