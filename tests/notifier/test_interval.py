"""The interval notifier API: insert checks, read_begin/read_retry races, refusals, release."""

from __future__ import annotations

import pytest
from notifier_helpers import FakeMm, RecordingOps, Worker, insert

from softgem import trace
from softgem.errors import EAGAIN, EOVERFLOW, SimBug
from softgem.mm.notify import NotifierRange, NotifyEvent
from softgem.notifier import (
    MmuIntervalNotifier,
    mmu_interval_check_retry,
    mmu_interval_notifier_insert,
    mmu_interval_notifier_insert_locked,
    mmu_interval_notifier_remove,
    mmu_interval_read_begin,
    mmu_interval_read_retry,
)
from softgem.sync import Completion, Mutex, lockdep

A = 0x10000
LEN = 0x10000
ULONG_MAX = (1 << 64) - 1


@pytest.mark.parametrize(("start", "length", "error"), [
    (A, 0, EOVERFLOW),                      # zero length
    (ULONG_MAX, 2, EOVERFLOW),              # wraps
    (1 << 63, 1 << 63, None),               # ends exactly at 2**64: last = ULONG_MAX fits
    (1 << 63, (1 << 63) + 1, EOVERFLOW),
    (A, 1, None),
])
def test_insert_checks_length_like_the_kernel(start: int, length: int,
                                              error: type[Exception] | None) -> None:
    mm = FakeMm()
    sub = MmuIntervalNotifier()
    if error is None:
        mmu_interval_notifier_insert(sub, mm, start, length, RecordingOps())
        assert (sub.start, sub.end) == (start, start + length)
    else:
        with pytest.raises(error):
            mmu_interval_notifier_insert(sub, mm, start, length, RecordingOps())
        assert not sub.in_tree and mm.subs.nr_intervals() == 0
    assert mm.subs.has_itree          # the kernel installs before it checks the length


def test_insert_locked_requires_the_mmap_lock_for_write() -> None:
    mm = FakeMm()
    with pytest.raises(SimBug):
        mmu_interval_notifier_insert_locked(MmuIntervalNotifier(), mm, A, LEN, RecordingOps())
    with mm.mmap_lock.write():
        mmu_interval_notifier_insert_locked(MmuIntervalNotifier(), mm, A, LEN, RecordingOps())
    assert mm.subs.nr_intervals() == 1


def test_read_begin_without_a_collision_returns_the_interval_seq_at_once() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    seq = mmu_interval_read_begin(sub)
    assert seq == sub.invalidate_seq
    assert not mmu_interval_read_retry(sub, seq)


def test_read_begin_sleeps_until_the_last_overlapping_range_ends() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    first = mm.start(A, A + 0x1000)
    second = mm.start(A + 0x2000, A + 0x3000)
    reader = Worker(lambda: mmu_interval_read_begin(sub))
    assert reader.blocked()
    mm.end(first)
    assert reader.blocked()                  # one overlapping range is still running
    mm.end(second)
    seq = reader.result()
    assert seq == 3 and not mmu_interval_read_retry(sub, seq)


def test_read_begin_does_not_sleep_for_a_range_that_misses_its_interval() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    _other, _ = insert(mm, 1 << 30, LEN)
    rng = mm.start(1 << 30, (1 << 30) + 0x1000)   # the seq is odd, but for `other`
    assert mmu_interval_read_begin(sub) == sub.invalidate_seq
    mm.end(rng)


def test_an_invalidation_between_read_begin_and_read_retry_is_reported() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    began, invalidated = Completion("t.began"), Completion("t.invalidated")

    def driver() -> tuple[int, bool, bool]:
        seq = mmu_interval_read_begin(sub)
        began.complete_all()
        assert invalidated.wait(10)
        return seq, mmu_interval_check_retry(sub, seq), mmu_interval_read_retry(sub, seq)

    worker = Worker(driver)
    assert began.wait(10)
    mm.invalidate(A + LEN - 0x1000, A + LEN)     # the last page only
    invalidated.complete_all()
    seq, checked, retry = worker.result()
    assert checked and retry
    fresh = mmu_interval_read_begin(sub)
    assert fresh != seq and not mmu_interval_read_retry(sub, fresh)


def test_read_begin_after_set_seq_waits_for_the_end_and_then_needs_no_retry() -> None:
    mm = FakeMm()
    sub, ops = insert(mm, A, LEN)
    ops.gate_after = Completion("t.gate")          # hold the invalidation after set_seq
    munmap = Worker(lambda: mm.invalidate(A, A + LEN))
    assert ops.entered.wait(10)
    reader = Worker(lambda: mmu_interval_read_begin(sub))
    assert reader.blocked()
    ops.gate_after.complete_all()
    munmap.result()
    seq = reader.result()
    assert seq == ops.calls[0][3] and not mmu_interval_read_retry(sub, seq)


def test_read_begin_before_set_seq_returns_the_old_seq_and_read_retry_catches_it() -> None:
    # The kernel's own diagram: read_begin cannot see a collision whose callback has not
    # reached set_seq yet; the read_retry under the driver lock is what closes the race.
    mm = FakeMm()
    sub, ops = insert(mm, A, LEN)
    old = sub.invalidate_seq
    ops.gate_before = Completion("t.gate")
    munmap = Worker(lambda: mm.invalidate(A, A + LEN))
    assert ops.entered.wait(10)
    seq = mmu_interval_read_begin(sub)             # does not sleep
    assert seq == old
    ops.gate_before.complete_all()
    munmap.result()
    assert mmu_interval_read_retry(sub, seq)


def test_a_retry_answer_is_not_changed_by_a_later_invalidation_of_another_interval() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    insert(mm, A + LEN, LEN)                        # adjacent, not overlapping
    seq = mmu_interval_read_begin(sub)
    mm.invalidate(A + LEN, A + 2 * LEN)
    assert not mmu_interval_read_retry(sub, seq)


def test_a_refused_non_blockable_range_fails_with_eagain_and_leaves_no_range_running() -> None:
    mm = FakeMm()
    first, first_ops = insert(mm, A, LEN)
    _refuser, refuser_ops = insert(mm, A + 0x1000, LEN, RecordingOps(refuse_nonblocking=True))
    seq_first = mmu_interval_read_begin(first)
    with pytest.raises(EAGAIN):
        mm.start(A, A + 2 * LEN, NotifyEvent.UNMAP, blockable=False)
    # The caller must not call end; the start already ended its half.
    assert (mm.subs.active, mm.subs.invalidate_seq) == (0, 4)
    assert len(first_ops.calls) == 1 and len(refuser_ops.calls) == 1
    assert mmu_interval_read_retry(first, seq_first)   # it was told before the refusal
    mm.invalidate(A, A + 0x1000)                       # the address space is not wedged


def test_a_false_from_a_blockable_range_is_a_bug_and_leaves_no_range_running() -> None:
    mm = FakeMm()
    insert(mm, A, LEN, RecordingOps(refuse_all=True))
    with pytest.raises(SimBug):
        mm.start(A, A + 0x1000)
    assert (mm.subs.active, mm.subs.invalidate_seq) == (0, 4)


def test_the_v68_callback_accepts_non_blockable_ranges() -> None:
    mm = FakeMm()
    _sub, ops = insert(mm, A, LEN)
    rng = mm.start(A, A + 0x1000, NotifyEvent.UNMAP, blockable=False)
    mm.end(rng)
    assert ops.calls == [(A, A + 0x1000, NotifyEvent.UNMAP, 3)]


def test_release_invalidates_every_interval_over_the_whole_address_space() -> None:
    mm = FakeMm()
    _, low = insert(mm, 0, 0x1000)
    _, high = insert(mm, (1 << 47) - 0x1000, 0x1000)
    mm.exit()
    assert low.calls == [(0, (1 << 64) - 1, NotifyEvent.RELEASE, 3)]
    assert high.calls == [(0, (1 << 64) - 1, NotifyEvent.RELEASE, 3)]
    assert (mm.subs.active, mm.subs.invalidate_seq) == (0, 4)
    assert mm.subs.nr_intervals() == 2          # the drivers still remove them later


def test_release_is_the_kernels_range_and_misses_an_interval_on_the_last_byte() -> None:
    """mn_itree_release: [0, ULONG_MAX), so the byte at ULONG_MAX is outside it."""
    mm = FakeMm()
    _, top = insert(mm, (1 << 64) - 1, 1)            # start + length - 1 does not wrap
    _, below = insert(mm, (1 << 64) - 0x1000, 0xFFF)  # ends just before the last byte
    mm.exit()
    assert top.calls == []
    assert below.calls == [(0, (1 << 64) - 1, NotifyEvent.RELEASE, 3)]


def test_every_step_is_traced_for_the_narration() -> None:
    events: list[trace.Event] = []
    stop = trace.subscribe(events.append)
    try:
        mm = FakeMm()
        sub, _ = insert(mm, A, LEN)
        seq = mmu_interval_read_begin(sub)
        mm.invalidate(A, A + 0x1000)
        mmu_interval_read_retry(sub, seq)
        mmu_interval_notifier_remove(sub)
    finally:
        stop()
    names = [e.name for e in events if e.category == "notifier"]
    assert names == ["insert", "read_begin", "invalidate_range_start",
                     "invalidate_range_end", "read_retry", "remove"]
    start = next(e for e in events if e.name == "invalidate_range_start")
    assert start.fields == {"start": A, "end": A + 0x1000, "event": "UNMAP", "seq": 3,
                            "hits": 1}


def test_lockdep_reports_a_callback_lock_held_across_read_begin() -> None:
    # read_begin may sleep until a callback finishes, so a lock held around it must never be
    # taken by a callback; the range-start pseudo-lock lets lockdep see that without a hang.
    driver_lock = Mutex("test.notifier.driver_lock")

    class LockingOps(RecordingOps):
        def invalidate(self, sub: MmuIntervalNotifier, rng: NotifierRange,
                       cur_seq: int) -> bool:
            with driver_lock:
                return super().invalidate(sub, rng, cur_seq)

    mm = FakeMm()
    sub, _ = insert(mm, A, LEN, LockingOps())
    with lockdep.expect_reports("cycle"):
        with driver_lock:
            mmu_interval_read_begin(sub)
        mm.invalidate(A, A + 0x1000)
