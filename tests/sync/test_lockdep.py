"""Lockdep: bad orders are reported from runs that did not deadlock; good ones are not."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sync_threads import Threads

from softgem.errors import SimBug
from softgem.sync import (
    Completion,
    Fence,
    Mutex,
    RwLock,
    RwSem,
    SpinLock,
    WaitQueue,
    lockdep,
)


def test_abba_across_two_threads_is_reported_with_both_chains_without_deadlocking(
        threads: Threads) -> None:
    a, b = Mutex("t_abba.a"), Mutex("t_abba.b")

    def a_then_b() -> None:
        with a, b:
            pass

    def b_then_a() -> None:
        with b, a:
            pass

    with lockdep.expect_reports("cycle") as caught:
        threads.run(a_then_b, "first")      # the threads never overlap: no deadlock
        threads.run(b_then_a, "second")
    [report] = caught
    assert report.locks == ("t_abba.a", "t_abba.b")
    msg = report.message
    assert "circular locking dependency" in msg
    assert "in thread 'first'" in msg and "in thread 'second'" in msg
    assert msg.count("in a_then_b") >= 2 and msg.count("in b_then_a") >= 2
    assert "-> #0 t_abba.a -> t_abba.b" in msg
    assert "the new dependency t_abba.b -> t_abba.a" in msg


def test_a_three_lock_cycle_is_reported_with_every_edge(threads: Threads) -> None:
    a, b, c = Mutex("t_three.a"), Mutex("t_three.b"), Mutex("t_three.c")

    def nest(outer: Mutex, inner: Mutex) -> Callable[[], None]:
        def run() -> None:
            with outer, inner:
                pass
        return run

    threads.run(nest(a, b), "ab")
    threads.run(nest(b, c), "bc")
    assert lockdep.reports() == []
    with lockdep.expect_reports("cycle") as caught:
        threads.run(nest(c, a), "ca")
    [report] = caught
    assert set(report.locks) == {"t_three.a", "t_three.b", "t_three.c"}
    assert "t_three.a -> t_three.b -> t_three.c" in report.message
    assert "in thread 'ab'" in report.message and "in thread 'bc'" in report.message


def test_a_consistent_order_across_threads_reports_nothing(threads: Threads) -> None:
    a, b, c = Mutex("t_ok.a"), Mutex("t_ok.b"), SpinLock("t_ok.c")

    def worker() -> None:
        for _ in range(50):
            with a, b, c:
                pass
            with b, c:
                pass
            with a, c:
                pass

    for i in range(4):
        threads.start(worker, f"w{i}")
    threads.join()
    assert lockdep.reports() == []
    assert (("t_ok.a", 0), ("t_ok.b", 0)) in lockdep.dependencies()


def test_each_bad_order_is_reported_once() -> None:
    a, b = Mutex("t_once.a"), Mutex("t_once.b")
    with a, b:
        pass
    with lockdep.expect_reports("cycle") as caught:
        for _ in range(3):
            with b, a:
                pass
    assert len(caught) == 1


def test_taking_two_locks_of_one_class_is_reported_as_recursive() -> None:
    first, second = Mutex("t_rec.obj"), Mutex("t_rec.obj")
    with lockdep.expect_reports("recursive") as caught, first, second:
        pass
    assert caught[0].locks == ("t_rec.obj",)
    assert "subclass" in caught[0].message


def test_nesting_one_class_with_a_distinct_subclass_is_allowed() -> None:
    parent, child = RwSem("t_nest.mmap_lock"), RwSem("t_nest.mmap_lock")
    outer, inner = Mutex("t_nest.obj"), Mutex("t_nest.obj")
    with parent.write(), child.write(subclass=1), outer, inner.nested(1):
        pass
    assert lockdep.reports() == []


def test_relocking_the_same_mutex_is_reported_and_raises() -> None:
    m = Mutex("t_relock.m")
    with lockdep.expect_reports("recursive"), m, pytest.raises(SimBug):
        m.lock()


def test_recursive_read_of_an_rwlock_is_allowed_even_with_a_writer_waiting(
        threads: Threads) -> None:
    lock = RwLock("t_rr.rwlock")
    lock.read_lock()
    threads.start(lambda: (lock.write_lock(), lock.write_unlock()), "writer")
    while not lock._writers_waiting:        # let the writer queue up
        threading.Event().wait(0.001)
    lock.read_lock()                        # must not queue behind the writer
    lock.read_unlock()
    lock.read_unlock()
    threads.join()
    assert lockdep.reports() == []


def test_recursive_read_of_an_rwsem_is_reported() -> None:
    sem = RwSem("t_rr.rwsem")
    with lockdep.expect_reports("recursive") as caught, sem.read(), sem.read():
        pass
    assert caught[0].locks == ("t_rr.rwsem",)


def test_read_then_write_of_an_rwlock_is_reported() -> None:
    lock = RwLock("t_rw.rwlock")
    with lockdep.expect_reports("recursive"), lock.read(), pytest.raises(SimBug):
        lock.write_lock()


def test_an_rwlock_read_cycle_is_reported_because_readers_queue_behind_writers(
        threads: Threads) -> None:
    r, m = RwLock("t_rcyc.r"), SpinLock("t_rcyc.m")

    def read_then_m() -> None:
        with r.read(), m:
            pass

    def m_then_read() -> None:
        with m, r.read():
            pass

    threads.run(read_then_m)
    with lockdep.expect_reports("cycle"):
        threads.run(m_then_read)


def _lock_a_mutex() -> None:
    with Mutex("t_sleep.mutex"):
        pass


def _read_an_rwsem() -> None:
    with RwSem("t_sleep.rwsem").read():
        pass


def _wait_for_a_true_condition() -> None:
    WaitQueue("t_sleep.wq").wait_event(lambda: True)


def _wait_for_a_done_completion() -> None:
    done = Completion("t_sleep.done")
    done.complete_all()
    done.wait()


def _wait_for_a_signalled_fence() -> None:
    fence = Fence("t_sleep")
    fence.signal()
    fence.wait()


SLEEPERS = [_lock_a_mutex, _read_an_rwsem, _wait_for_a_true_condition,
            _wait_for_a_done_completion, _wait_for_a_signalled_fence]


@pytest.mark.parametrize("sleep", SLEEPERS, ids=lambda f: f.__name__.lstrip("_"))
def test_sleeping_while_holding_a_spinlock_is_reported(sleep: Callable[[], None]) -> None:
    spin = SpinLock("t_sleep.spin")
    with lockdep.expect_reports("sleep-in-atomic") as caught, spin:
        sleep()
    assert caught[0].locks == ("t_sleep.spin",)
    assert "t_sleep.spin (spinlock)" in caught[0].message


def test_sleeping_while_reading_an_rwlock_is_reported() -> None:
    lock = RwLock("t_sleep.rwlock")
    with lockdep.expect_reports("sleep-in-atomic"), lock.read(), Mutex("t_sleep.m2"):
        pass


def test_spinning_inside_a_spinlock_and_sleeping_outside_it_are_fine() -> None:
    outer, inner = SpinLock("t_spin.outer"), SpinLock("t_spin.inner")
    with Mutex("t_spin.mutex"), outer, inner:
        pass
    assert lockdep.reports() == []


def test_unlocking_a_mutex_held_by_another_thread_is_reported_and_raises(
        threads: Threads) -> None:
    m = Mutex("t_badunlock.m")
    locked, release = threading.Event(), threading.Event()

    def holder() -> None:
        with m:
            locked.set()
            release.wait()

    threads.start(holder, "holder")
    locked.wait()
    with lockdep.expect_reports("bad-unlock") as caught, pytest.raises(SimBug):
        m.unlock()
    release.set()
    threads.join()
    assert "t_badunlock.m" in caught[0].message


@pytest.mark.parametrize("release", ["up_read", "up_write"])
def test_releasing_an_rwsem_not_held_is_reported_and_raises(release: str) -> None:
    sem = RwSem("t_badunlock.sem")
    with lockdep.expect_reports("bad-unlock"), pytest.raises(SimBug):
        getattr(sem, release)()


def test_a_primed_order_catches_the_reverse_acquisition_before_the_forward_one_ran() -> None:
    lockdep.prime(["t_prime.mmap_lock", "t_prime.object", "t_prime.notifier_lock"])
    mmap_lock, notifier_lock = RwSem("t_prime.mmap_lock"), RwSem("t_prime.notifier_lock")
    with lockdep.expect_reports("cycle") as caught, notifier_lock.read(), mmap_lock.read():
        pass
    assert "lockdep.prime" in caught[0].message
    assert "t_prime.mmap_lock -> t_prime.object -> t_prime.notifier_lock" in caught[0].message


def test_a_primed_order_accepts_the_forward_acquisition() -> None:
    lockdep.prime(["t_primeok.a", "t_primeok.b"])
    with Mutex("t_primeok.a"), Mutex("t_primeok.b"):
        pass
    assert lockdep.reports() == []


def test_priming_an_order_that_contradicts_the_recorded_one_is_reported() -> None:
    with Mutex("t_primebad.b"), Mutex("t_primebad.a"):
        pass
    with lockdep.expect_reports("cycle") as caught:
        lockdep.prime(["t_primebad.a", "t_primebad.b"])
    assert "declares t_primebad.a -> t_primebad.b" in caught[0].message


def test_trylock_adds_no_dependency_but_is_held_for_what_comes_after() -> None:
    a, b, c = Mutex("t_try.a"), Mutex("t_try.b"), Mutex("t_try.c")
    with a, b:
        pass
    with b:
        assert a.trylock()              # b -> a by trylock: cannot deadlock, no edge
        assert lockdep.held_locks() == [b.lock_class, a.lock_class]
        a.unlock()
    assert lockdep.reports() == []
    assert a.trylock()
    with c:                              # a (trylocked) -> c is a real edge
        pass
    a.unlock()
    with lockdep.expect_reports("cycle"), c, a:
        pass


def test_a_failed_trylock_leaves_nothing_held(threads: Threads) -> None:
    m = Mutex("t_tryfail.m")
    threads.run(m.lock)                  # another thread holds it (and exits)
    assert not m.trylock()
    assert lockdep.held_locks() == []


def test_disabled_hooks_record_and_report_nothing() -> None:
    a, b = Mutex("t_off.a"), Mutex("t_off.b")
    spin = SpinLock("t_off.spin")
    lockdep.disable()
    assert not lockdep.enabled
    with a, b:
        assert lockdep.held_locks() == []
    with b, a:
        pass
    with spin, Mutex("t_off.c"):
        pass
    x, y = Mutex("t_off.same"), Mutex("t_off.same")
    with x, y:
        pass
    lockdep.assert_held(Mutex("t_off.never"))     # a no-op when disabled
    assert lockdep.reports() == []
    assert lockdep.dependencies() == []
    lockdep.enable()
    with a, b:                                     # nothing was learnt while disabled
        pass
    assert lockdep.dependencies() == [(("t_off.a", 0), ("t_off.b", 0))]
    assert lockdep.reports() == []


def test_held_locks_lists_this_threads_classes_outermost_first(threads: Threads) -> None:
    a, s = Mutex("t_held.a"), RwSem("t_held.s")
    with a, s.read():
        assert lockdep.held_locks() == [a.lock_class, s.lock_class]
        threads.run(lambda: _assert_equal(lockdep.held_locks(), []))
    assert lockdep.held_locks() == []


def _assert_equal(got: object, want: object) -> None:
    assert got == want


def test_assert_held_and_assert_not_held_check_this_thread() -> None:
    m, other = Mutex("t_assert.m"), Mutex("t_assert.other")
    with m:
        lockdep.assert_held(m)
        lockdep.assert_held(m.lock_class)
        lockdep.assert_not_held(other, other.lock_class)
        with pytest.raises(SimBug):
            lockdep.assert_not_held(other, m)
    with pytest.raises(SimBug):
        lockdep.assert_held(m)


def test_expect_reports_fails_when_the_report_does_not_come() -> None:
    with pytest.raises(AssertionError, match="cycle"), lockdep.expect_reports("cycle"):
        pass


def test_expect_reports_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError), lockdep.expect_reports("deadlock"):
        pass


def test_expect_reports_leaves_other_kinds_unclaimed() -> None:
    spin = SpinLock("t_claim.spin")
    x, y = Mutex("t_claim.same"), Mutex("t_claim.same")
    with lockdep.expect_reports("recursive"), x, y, spin, Mutex("t_claim.m"):
        pass
    assert [r.kind for r in lockdep.reports()] == ["sleep-in-atomic"]
    lockdep.clear_reports()


def test_fatal_mode_raises_before_the_lock_is_taken() -> None:
    a, b = Mutex("t_fatal.a"), Mutex("t_fatal.b")
    with a, b:
        pass
    lockdep.enable(fatal=True)
    with pytest.raises(SimBug, match="circular"), b:
        a.lock()
    assert not a.is_locked()
    lockdep.clear_reports()


def test_reset_forgets_the_graph() -> None:
    a, b = Mutex("t_reset.a"), Mutex("t_reset.b")
    with a, b:
        pass
    lockdep.reset()
    with b, a:
        pass
    assert lockdep.reports() == []
