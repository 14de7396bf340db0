"""Whole-mm notifiers: start/end for every range, release once, unregister waits."""

from __future__ import annotations

import pytest
from notifier_helpers import FakeMm, RecordingMmOps, Worker, insert

from softgem.errors import EAGAIN, SimBug
from softgem.mm.notify import NotifyEvent
from softgem.notifier import (
    MmuNotifier,
    mmu_notifier_register,
    mmu_notifier_register_locked,
    mmu_notifier_unregister,
)
from softgem.sync import Completion


def register(mm: FakeMm, ops: RecordingMmOps | None = None) -> tuple[MmuNotifier,
                                                                      RecordingMmOps]:
    ops = ops or RecordingMmOps()
    sub = MmuNotifier(ops)
    mmu_notifier_register(sub, mm)
    return sub, ops


def test_register_installs_subscriptions_without_the_interval_side() -> None:
    mm = FakeMm()
    register(mm)
    assert not mm.subs.has_itree and mm.subs.nr_notifiers() == 1
    mm.invalidate(0, 0x1000)
    assert mm.subs.active == 0 and mm.subs.invalidate_seq == 2


def test_register_locked_requires_the_mmap_lock_for_write() -> None:
    mm = FakeMm()
    with pytest.raises(SimBug):
        mmu_notifier_register_locked(MmuNotifier(RecordingMmOps()), mm)


def test_a_whole_mm_notifier_hears_every_range_start_and_end() -> None:
    mm = FakeMm()
    _, ops = register(mm)
    mm.invalidate(0x1000, 0x2000)
    mm.invalidate(1 << 40, (1 << 40) + 0x1000, NotifyEvent.CLEAR)
    assert ops.calls == [("start", 0x1000, 0x2000), ("end", 0x1000, 0x2000),
                         ("start", 1 << 40, (1 << 40) + 0x1000),
                         ("end", 1 << 40, (1 << 40) + 0x1000)]


def test_notifiers_are_called_newest_first_like_the_kernel_hlist() -> None:
    mm = FakeMm()
    order: list[str] = []

    class Named(RecordingMmOps):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def invalidate_range_start(self, sub: MmuNotifier, rng: object) -> bool:
            order.append(self.name)
            return True

    register(mm, Named("old"))
    register(mm, Named("new"))
    mm.invalidate(0, 0x1000)
    assert order == ["new", "old"]


def test_exit_releases_each_notifier_once_and_unregister_does_not_release_again() -> None:
    mm = FakeMm()
    sub, ops = register(mm)
    mm.exit()
    assert ops.calls == [("release", 0, 0)]
    assert mm.subs.nr_notifiers() == 0
    mmu_notifier_unregister(sub, mm)
    assert ops.calls == [("release", 0, 0)]
    assert sub.mm is None


def test_unregister_before_exit_releases_and_stops_all_callbacks() -> None:
    mm = FakeMm()
    sub, ops = register(mm)
    mmu_notifier_unregister(sub, mm)
    mm.invalidate(0, 0x1000)
    mm.exit()
    assert ops.calls == [("release", 0, 0)]
    assert mm.subs.nr_registrations() == 0


def test_unregister_waits_for_a_callback_that_is_still_running() -> None:
    mm = FakeMm()
    sub, ops = register(mm)
    ops.gate = Completion("t.gate")
    munmap = Worker(lambda: mm.invalidate(0, 0x1000))
    assert ops.entered.wait(10)
    unregister = Worker(lambda: mmu_notifier_unregister(sub, mm))
    assert unregister.blocked()
    ops.gate.complete_all()
    munmap.result()
    unregister.result()
    # Off the list before the range ended, so no end: exactly what the kernel's hlist does.
    assert ops.calls == [("start", 0, 0x1000), ("release", 0, 0)]


def test_a_refusal_fails_the_start_and_only_the_accepting_notifiers_get_an_end() -> None:
    mm = FakeMm()
    _, accepting = register(mm)
    _, refusing = register(mm, RecordingMmOps(refuse_nonblocking=True))
    with pytest.raises(EAGAIN):
        mm.start(0, 0x1000, NotifyEvent.UNMAP, blockable=False)
    assert accepting.calls == [("start", 0, 0x1000), ("end", 0, 0x1000)]
    assert refusing.calls == [("start", 0, 0x1000)]


def test_a_false_from_a_blockable_range_is_a_bug() -> None:
    mm = FakeMm()
    register(mm, RecordingMmOps(refuse_nonblocking=True))
    mm.invalidate(0, 0x1000)          # blockable: the refusing ops accept

    class Refuser(RecordingMmOps):
        def invalidate_range_start(self, sub: MmuNotifier, rng: object) -> bool:
            return False
    register(mm, Refuser())
    with pytest.raises(SimBug):
        mm.start(0, 0x1000)


def test_a_whole_mm_refusal_also_ends_the_interval_half_of_the_range() -> None:
    mm = FakeMm()
    _sub, iops = insert(mm, 0, 0x10000)
    register(mm, RecordingMmOps(refuse_nonblocking=True))
    with pytest.raises(EAGAIN):
        mm.start(0, 0x1000, NotifyEvent.UNMAP, blockable=False)
    assert (mm.subs.active, mm.subs.invalidate_seq) == (0, 4)
    assert len(iops.calls) == 1


def test_both_kinds_hear_the_same_range_and_both_count_as_registrations() -> None:
    mm = FakeMm()
    _, iops = insert(mm, 0, 0x10000)
    msub, mops = register(mm)
    assert mm.subs.nr_registrations() == 2
    mm.invalidate(0, 0x1000)
    assert len(iops.calls) == 1 and len(mops.calls) == 2
    mmu_notifier_unregister(msub, mm)
    assert mm.subs.nr_registrations() == 1
