"""A small stand-in address space and recording callbacks for the notifier tests.

The fake raises range events exactly through :mod:`softgem.mm.notify`, as the real mm does,
so the tests exercise the same contract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from softgem.mm import notify
from softgem.mm.notify import NotifierRange, NotifyEvent
from softgem.notifier import (
    MmuIntervalNotifier,
    MmuNotifier,
    MmuNotifierSubscriptions,
    mmu_interval_notifier_insert,
    mmu_interval_set_seq,
)
from softgem.sync import Completion, RwSem


class FakeMm:
    """Just what the notifier layer needs: subscriptions slot and an mmap lock."""

    def __init__(self) -> None:
        self.notifier_subscriptions: Any = None
        self.mmap_lock = RwSem("test.fake_mm.mmap_lock")

    @property
    def subs(self) -> MmuNotifierSubscriptions:
        assert isinstance(self.notifier_subscriptions, MmuNotifierSubscriptions)
        return self.notifier_subscriptions

    def start(self, start: int, end: int, event: NotifyEvent = NotifyEvent.UNMAP,
              blockable: bool = True) -> NotifierRange:
        rng = NotifierRange(self, start, end, event, blockable)
        notify.invalidate_range_start(self, rng)
        return rng

    def end(self, rng: NotifierRange) -> None:
        notify.invalidate_range_end(self, rng)

    def invalidate(self, start: int, end: int, event: NotifyEvent = NotifyEvent.UNMAP) -> None:
        self.end(self.start(start, end, event))

    def exit(self) -> None:
        notify.release(self)


class RecordingOps:
    """Interval ops that record every call and set the seq, like the v6.8 userptr callback.

    ``refuse_nonblocking``: return False for non-blockable ranges (a pre-6.8 driver).
    ``gate_before`` / ``gate_after``: if set, the callback waits on it before / after
    ``set_seq`` (to hold an invalidation open at that point in a test).
    """

    def __init__(self, refuse_nonblocking: bool = False, refuse_all: bool = False) -> None:
        self.calls: list[tuple[int, int, NotifyEvent, int]] = []
        self.refuse_nonblocking = refuse_nonblocking
        self.refuse_all = refuse_all
        self.entered = Completion("test.ops.entered")
        self.gate_before: Completion | None = None
        self.gate_after: Completion | None = None

    def invalidate(self, sub: MmuIntervalNotifier, rng: NotifierRange, cur_seq: int) -> bool:
        self.calls.append((rng.start, rng.end, rng.event, cur_seq))
        self.entered.complete_all()
        if self.gate_before is not None:
            assert self.gate_before.wait(timeout=10)
        if self.refuse_all or (self.refuse_nonblocking and not rng.blockable):
            return False
        mmu_interval_set_seq(sub, cur_seq)
        if self.gate_after is not None:
            assert self.gate_after.wait(timeout=10)
        return True


class RecordingMmOps:
    """Whole-mm ops that record (kind, start, end) and optionally refuse non-blockable."""

    def __init__(self, refuse_nonblocking: bool = False) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.refuse_nonblocking = refuse_nonblocking
        self.gate: Completion | None = None
        self.entered = Completion("test.mmops.entered")

    def invalidate_range_start(self, sub: MmuNotifier, rng: NotifierRange) -> bool:
        self.calls.append(("start", rng.start, rng.end))
        self.entered.complete_all()
        if self.gate is not None:
            assert self.gate.wait(timeout=10)
        return not (self.refuse_nonblocking and not rng.blockable)

    def invalidate_range_end(self, sub: MmuNotifier, rng: NotifierRange) -> None:
        self.calls.append(("end", rng.start, rng.end))

    def release(self, sub: MmuNotifier, mm: Any) -> None:
        self.calls.append(("release", 0, 0))


def insert(mm: FakeMm, start: int, length: int,
           ops: RecordingOps | None = None) -> tuple[MmuIntervalNotifier, RecordingOps]:
    ops = ops or RecordingOps()
    sub = MmuIntervalNotifier()
    mmu_interval_notifier_insert(sub, mm, start, length, ops)
    return sub, ops


class Worker:
    """Runs ``fn`` on a real thread; ``result()`` joins and re-raises."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._result: Any = None
        self._exc: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._result = self._fn()
        except BaseException as exc:  # handed back to the test thread
            self._exc = exc

    def blocked(self) -> bool:
        """Still running after a short grace period (used to show a thread is asleep)."""
        self.thread.join(0.05)
        return self.thread.is_alive()

    def result(self) -> Any:
        self.thread.join(10)
        assert not self.thread.is_alive(), "worker thread did not finish"
        if self._exc is not None:
            raise self._exc
        return self._result
