"""The sequence protocol's state table, transition by transition (subscriptions.py)."""

from __future__ import annotations

import pytest
from notifier_helpers import FakeMm, RecordingOps, Worker, insert

from softgem.errors import SimBug
from softgem.mm.notify import NotifierRange, NotifyEvent
from softgem.notifier import (
    MmuIntervalNotifier,
    mmu_interval_notifier_insert,
    mmu_interval_notifier_remove,
    mmu_interval_read_begin,
    subscriptions_of,
)

A = 0x10000          # the watched interval [A, A + 64 KiB)
LEN = 0x10000


def test_an_address_space_without_registrations_has_no_subscriptions() -> None:
    mm = FakeMm()
    assert subscriptions_of(mm) is None
    mm.invalidate(0, 0x1000)            # the fast path: nothing installed, nothing happens
    assert mm.notifier_subscriptions is None


def test_first_insert_installs_idle_subscriptions_with_an_even_seq() -> None:
    mm = FakeMm()
    insert(mm, A, LEN)
    subs = mm.subs
    assert subs.has_itree and subs.invalidate_seq == 2 and subs.active == 0
    assert not mm.mmap_lock.is_locked()


def test_insert_while_idle_gives_the_interval_an_odd_seq_below_the_current_one() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    assert sub.in_tree
    assert sub.invalidate_seq == mm.subs.invalidate_seq - 1
    assert sub.invalidate_seq & 1


def test_a_range_that_misses_every_interval_leaves_the_seq_even() -> None:
    mm = FakeMm()
    _, ops = insert(mm, A, LEN)
    rng = mm.start(A + LEN, A + 2 * LEN)
    assert (mm.subs.active, mm.subs.invalidate_seq) == (1, 2)
    mm.end(rng)
    assert (mm.subs.active, mm.subs.invalidate_seq) == (0, 2)
    assert ops.calls == []


def test_a_hit_makes_the_seq_odd_until_end_then_the_next_even_value() -> None:
    mm = FakeMm()
    _, ops = insert(mm, A, LEN)
    rng = mm.start(A, A + 0x1000)
    assert (mm.subs.active, mm.subs.invalidate_seq) == (1, 3)
    assert ops.calls == [(A, A + 0x1000, NotifyEvent.UNMAP, 3)]
    mm.end(rng)
    assert (mm.subs.active, mm.subs.invalidate_seq) == (0, 4)


def test_nested_ranges_keep_the_seq_odd_until_the_last_one_ends() -> None:
    mm = FakeMm()
    insert(mm, A, LEN)
    outer = mm.start(0, 1 << 40)
    inner = mm.start(A, A + 0x1000)
    mm.end(inner)
    assert (mm.subs.active, mm.subs.invalidate_seq) == (1, 3)
    mm.end(outer)
    assert (mm.subs.active, mm.subs.invalidate_seq) == (0, 4)


def test_a_miss_nested_in_a_hit_does_not_end_the_hit() -> None:
    mm = FakeMm()
    insert(mm, A, LEN)
    hit = mm.start(A, A + 0x1000)
    miss = mm.start(1 << 30, (1 << 30) + 0x1000)
    mm.end(hit)
    assert mm.subs.invalidate_seq & 1
    mm.end(miss)
    assert mm.subs.invalidate_seq == 4


def test_insert_during_a_range_that_hit_nothing_is_direct_but_makes_the_seq_odd() -> None:
    mm = FakeMm()
    insert(mm, 1 << 30, LEN)
    rng = mm.start(0, 0x1000)
    sub, _ = insert(mm, A, LEN)
    assert sub.in_tree
    assert mm.subs.invalidate_seq == 3 and sub.invalidate_seq == 3
    mm.end(rng)
    assert mm.subs.invalidate_seq == 4
    assert mmu_interval_read_begin(sub) == 3      # no longer colliding: no sleep


def test_insert_during_an_invalidation_is_deferred_to_the_last_end() -> None:
    mm = FakeMm()
    insert(mm, 1 << 30, LEN)
    rng = mm.start(1 << 30, (1 << 30) + 0x1000)
    sub, ops = insert(mm, A, LEN)
    assert not sub.in_tree
    assert sub.invalidate_seq == mm.subs.invalidate_seq == 3
    assert mm.subs.nr_intervals() == 2
    mm.end(rng)
    assert sub.in_tree and mm.subs.deferred == {}
    mm.invalidate(A, A + 0x1000)
    assert ops.calls == [(A, A + 0x1000, NotifyEvent.UNMAP, 5)]


def test_removing_a_deferred_insert_drops_it_without_waiting() -> None:
    mm = FakeMm()
    insert(mm, 1 << 30, LEN)
    rng = mm.start(1 << 30, (1 << 30) + 0x1000)
    sub, _ = insert(mm, A, LEN)
    mmu_interval_notifier_remove(sub)               # would hang the test if it waited
    assert mm.subs.nr_intervals() == 1 and mm.subs.deferred == {}
    mm.end(rng)
    assert not sub.in_tree and len(mm.subs.itree) == 1


def test_remove_during_an_invalidation_sleeps_until_it_ends() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    rng = mm.start(A, A + 0x1000)
    remover = Worker(lambda: mmu_interval_notifier_remove(sub))
    assert remover.blocked()
    assert mm.subs.nr_intervals() == 0 and sub in mm.subs.deferred
    mm.end(rng)
    remover.result()
    assert not sub.in_tree and mm.subs.nr_registrations() == 0


def test_remove_during_a_range_that_hit_nothing_is_immediate() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    rng = mm.start(1 << 30, (1 << 30) + 0x1000)
    mmu_interval_notifier_remove(sub)
    assert not sub.in_tree
    mm.end(rng)


def test_end_without_start_is_a_bug() -> None:
    mm = FakeMm()
    insert(mm, A, LEN)
    with pytest.raises(SimBug):
        mm.end(NotifierRange(mm, A, A + 0x1000, NotifyEvent.UNMAP))


def test_remove_twice_or_of_a_never_inserted_interval_is_a_bug() -> None:
    mm = FakeMm()
    sub, _ = insert(mm, A, LEN)
    mmu_interval_notifier_remove(sub)
    with pytest.raises(SimBug):
        mmu_interval_notifier_remove(sub)
    with pytest.raises(SimBug):
        mmu_interval_notifier_remove(MmuIntervalNotifier())


def test_inserting_the_same_notifier_twice_is_a_bug() -> None:
    mm = FakeMm()
    sub, ops = insert(mm, A, LEN)
    with pytest.raises(SimBug):
        mmu_interval_notifier_insert(sub, mm, A, LEN, ops)


def test_registration_counts_return_to_zero() -> None:
    mm = FakeMm()
    subs = [insert(mm, A + i * 0x1000, LEN, RecordingOps())[0] for i in range(10)]
    assert mm.subs.nr_intervals() == mm.subs.nr_registrations() == 10
    for sub in subs:
        mmu_interval_notifier_remove(sub)
    assert mm.subs.nr_registrations() == 0 and len(mm.subs.itree) == 0
