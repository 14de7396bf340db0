"""softgem.sync.deadline: the clock and the polling pause the command streamer spins with."""

from __future__ import annotations

from softgem.sync import SpinLock, lockdep
from softgem.sync.deadline import Backoff, Deadline


def test_a_deadline_of_none_never_expires() -> None:
    d = Deadline(None)
    assert not d.expired() and d.remaining() is None


def test_a_zero_deadline_has_expired_at_once() -> None:
    d = Deadline(0.0)
    assert d.expired() and d.remaining() == 0.0


def test_a_long_deadline_counts_down_without_expiring() -> None:
    d = Deadline(3600.0)
    left = d.remaining()
    assert not d.expired() and left is not None and 0 < left <= 3600.0


def test_backoff_counts_its_pauses_and_starts_over_after_progress() -> None:
    b = Backoff(yields=2, min_pause=1e-6, max_pause=1e-5)
    for _ in range(5):
        b.pause()
    assert b.spins == 5
    b.reset()
    assert b.spins == 0


def test_pausing_under_a_spinlock_is_reported_by_lockdep() -> None:
    lock = SpinLock("test.deadline_spin")
    with lockdep.expect_reports("sleep-in-atomic") as reports, lock:
        Backoff(yields=0, min_pause=1e-6).pause()
    assert reports


def test_a_negative_deadline_is_already_expired() -> None:
    assert Deadline(-1.0).expired()
