"""MmuNotifierSubscriptions: what an address space's ``notifier_subscriptions`` points to.

One per address space, installed on first registration (``__mmu_notifier_register``) with
the mmap lock held for write, and never removed: the mm layer's "does anyone listen?" test
is ``mm.notifier_subscriptions is None``.  It carries two independent kinds of listener:

* interval notifiers (``mmu_interval_notifier``) in an interval index, driven by the
  collision-retry sequence protocol below; the i915 userptr uses these;
* whole-mm notifiers (``mmu_notifier``), a copy-on-write tuple walked under SRCU.

The interval sequence protocol
------------------------------
A seqcount that admits many concurrent writers: the writers are the invalidations the mm
runs (possibly nested, possibly on several threads), the readers are drivers building
mappings of user pages.  ``invalidate_seq`` and ``active`` change only under ``lock``
(SpinLock ``notifier.subscriptions_lock``); callbacks run with no lock of ours held.

==============  ========  ==================================================  =============
invalidate_seq  active    meaning                                             interval index
==============  ========  ==================================================  =============
even            0         idle                                                may change
even            > 0       ranges running, none overlapping an interval        may change
odd             > 0       some running range overlaps an interval             frozen
odd             0         impossible (the last ``end`` makes it even)         --
==============  ========  ==================================================  =============

Transitions (all under ``lock``):

* ``invalidate_range_start``: ``active += 1``; if the range overlaps an interval,
  ``seq |= 1``; every overlapping interval's ``invalidate(range, cur_seq=seq)`` is then
  called unlocked (the index cannot change while the seq is odd, so the hits collected
  under the lock are exactly what the kernel's unlocked tree walk visits).
* ``invalidate_range_end``: ``active -= 1``; on reaching 0 with an odd seq: ``seq += 1``,
  apply the deferred inserts/removes, then (unlocked) wake every sleeper.
* insert while idle: straight into the index, ``sub.seq = seq - 1`` (odd, never equal to
  the idle even seq, so ``read_begin`` does not sleep).
  Insert while ``active`` and even: into the index and ``seq |= 1`` (we cannot know whether
  the running ranges cover it, so assume they do); ``sub.seq = seq``.
  Insert while odd: deferred to the last ``end``; ``sub.seq = seq``.
* remove while odd: a not-yet-applied insert is simply dropped; otherwise the removal is
  deferred and the remover sleeps until the seq moves on.  Otherwise: straight out.

The race the protocol closes (``read_retry`` runs under the driver's own lock, the same
lock its ``invalidate`` callback takes around ``set_seq``; none in v6.8+ i915):

::

  mm thread (munmap)                          driver thread (execbuf)
  ------------------------------------------  ------------------------------------------
                                              read_begin(sub):
                                                lock; s = sub.seq  (odd, old)
                                                sub.seq == subs.seq?  no; unlock
                                                -> returns s, does not sleep
  invalidate_range_start:
    lock; active = 1; hit -> subs.seq |= 1
    cur = subs.seq; unlock
    ops.invalidate(sub, cur) -> set_seq(sub, cur)
                                              pins pages, builds its page list
    zap PTEs, free pages
  invalidate_range_end:
    lock; active = 0; subs.seq += 1 (even)
    apply deferred; unlock; wake_up_all
                                              read_retry(sub, s): sub.seq (cur) != s
                                                -> True: drop the pages, try again

and the other interleaving: a ``read_begin`` that runs between ``start`` and ``end`` finds
``sub.seq == subs.seq`` (both ``cur``) and sleeps until ``end`` moves the seq on, so it can
never return the seq of a collision that is still in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .. import trace
from ..errors import EAGAIN, SimBug
from ..mm import NotifierRange, NotifyEvent
from ..sync import LockdepMap, RwSem, SpinLock, WaitQueue, lockdep
from .hlist import hlist_invalidate_end, hlist_invalidate_range_start, hlist_release
from .interval_tree import IntervalTree
from .srcu import Srcu

if TYPE_CHECKING:
    from .interval import MmuIntervalNotifier
    from .mmu_notifier import MmuNotifier

__all__ = ["MmuNotifierSubscriptions", "NotifierMm", "SubscriptionStatistics", "subscriptions_of", "install_locked"]

# A pseudo-lock, as the kernel's __mmu_notifier_invalidate_range_start_map: held around the
# callbacks, taken and dropped by the sleepers, so lockdep learns "a lock the read side
# holds while sleeping must never be taken by a callback".
RANGE_START_MAP = LockdepMap("notifier.invalidate_range_start_map")
# mn_itree_release's range is [0, ULONG_MAX): an interval on the very last byte of the address
# space (possible: insert checks only that start + length - 1 does not wrap) is not released.
_ULONG_MAX = (1 << 64) - 1


class NotifierMm(Protocol):
    """What this layer needs from an address space."""

    notifier_subscriptions: Any
    mmap_lock: RwSem


def map_might_wait() -> None:
    """Tell lockdep the caller may wait for a running invalidation (read_begin, remove)."""
    if lockdep.enabled:
        RANGE_START_MAP.might_wait()


@dataclass(frozen=True, slots=True)
class SubscriptionStatistics:
    """What is registered on one address space (a snapshot; leak tests read it)."""

    interval_notifiers: int     # counting deferred inserts, minus deferred removes
    notifiers: int              # whole-mm notifiers
    invalidate_seq: int
    active_invalidations: int   # ranges between start and end

    @property
    def registrations(self) -> int:
        """Everything still registered (zero after a clean exit)."""
        return self.interval_notifiers + self.notifiers


class MmuNotifierSubscriptions:
    """``struct mmu_notifier_subscriptions``: implements mm.notify.NotifierSubscriptions."""

    __slots__ = ("_nr_intervals", "active", "deferred", "has_itree", "hlist",
                 "invalidate_seq", "itree", "lock", "srcu", "wq")

    def __init__(self) -> None:
        self.lock = SpinLock("notifier.subscriptions_lock")
        self.invalidate_seq = 2                   # see the state table above
        self.active = 0                           # invalidations between start and end
        self.itree: IntervalTree[MmuIntervalNotifier] = IntervalTree()
        self.has_itree = False                    # set once, under mmap_lock for write
        # Pending index changes while the seq is odd: in the index -> remove, else insert.
        # A dict keeps insertion order, so applying them is deterministic.
        self.deferred: dict[MmuIntervalNotifier, None] = {}
        self.wq = WaitQueue("notifier.subscriptions_wq")
        self.hlist: tuple[MmuNotifier, ...] = ()  # newest first, replaced under lock
        self.srcu = Srcu("notifier.srcu")
        self._nr_intervals = 0

    # -- counters (leak tests) -------------------------------------------------------------
    def statistics(self) -> SubscriptionStatistics:
        with self.lock:
            return SubscriptionStatistics(self._nr_intervals, len(self.hlist),
                                          self.invalidate_seq, self.active)

    def nr_intervals(self) -> int:
        """Registered interval notifiers, counting deferred inserts, minus deferred removes."""
        return self._nr_intervals

    def nr_notifiers(self) -> int:
        """Registered whole-mm notifiers."""
        return len(self.hlist)

    def nr_registrations(self) -> int:
        """Everything still registered on this address space (zero after a clean exit)."""
        return self._nr_intervals + len(self.hlist)

    # -- the NotifierSubscriptions protocol ----------------------------------------------
    def invalidate_range_start(self, rng: NotifierRange) -> None:
        """Raises EAGAIN when a callback refuses a non-blockable range; then the range is
        already ended here and the caller must not call :meth:`invalidate_range_end`."""
        if lockdep.enabled or self.hlist:
            self._start_annotated(rng)
        elif self.has_itree:                # the hot path: interval notifiers only
            self._itree_invalidate(rng)

    def invalidate_range_end(self, rng: NotifierRange) -> None:
        if lockdep.enabled or self.hlist:
            self._end_annotated(rng)
        elif self.has_itree:
            self._itree_inv_end(rng)

    def _start_annotated(self, rng: NotifierRange) -> None:
        """Start with whole-mm notifiers and/or under lockdep (the range-start map held)."""
        annotate = lockdep.enabled
        if annotate:
            RANGE_START_MAP.acquire()
        try:
            if self.has_itree:
                self._itree_invalidate(rng)
            if self.hlist:
                try:
                    hlist_invalidate_range_start(self, rng)
                except EAGAIN:
                    # The kernel leaves the interval half started here (its active count
                    # never drops); we end it so the address space does not wedge.
                    if self.has_itree:
                        self._itree_inv_end(rng)
                    raise
        finally:
            if annotate:
                RANGE_START_MAP.release()

    def _end_annotated(self, rng: NotifierRange) -> None:
        annotate = lockdep.enabled
        if annotate:
            RANGE_START_MAP.acquire()
        try:
            if self.has_itree:
                self._itree_inv_end(rng)
            if self.hlist:
                hlist_invalidate_end(self, rng)
        finally:
            if annotate:
                RANGE_START_MAP.release()

    def release(self, mm: Any) -> None:
        """``exit_mmap``: every interval sees a RELEASE over everything, then whole-mm
        notifiers get ``release`` and leave the list."""
        if self.has_itree:
            rng = NotifierRange(mm, 0, _ULONG_MAX, NotifyEvent.RELEASE)
            self._itree_invalidate(rng)
            self._itree_inv_end(rng)
        if self.hlist:
            hlist_release(self, mm)

    # -- interval side ---------------------------------------------------------------------
    def _itree_invalidate(self, rng: NotifierRange) -> None:
        lock = self.lock
        lock.lock()
        self.active += 1
        hits = self.itree.overlapping(rng.start, rng.end)
        if hits:
            self.invalidate_seq |= 1
        cur_seq = self.invalidate_seq
        lock.unlock()
        if trace.enabled:
            trace.emit("notifier", "invalidate_range_start", start=rng.start, end=rng.end,
                       event=rng.event.name, seq=cur_seq, hits=len(hits))
        if not hits:
            return
        try:
            for sub in hits:
                ops = sub.ops
                if ops is None:
                    raise SimBug(f"{sub!r} in the index without ops")
                if ops.invalidate(sub, rng, cur_seq):
                    continue
                if rng.blockable:
                    raise SimBug(f"interval notifier [{sub.start:#x}, {sub.end:#x}) refused "
                                 f"a blockable {rng.event.name} range")
                if trace.enabled:
                    trace.emit("notifier", "invalidate_refused", start=sub.start, end=sub.end,
                               event=rng.event.name, seq=cur_seq)
                raise EAGAIN("an interval notifier refused a non-blockable range")
        except BaseException:
            self._itree_inv_end(rng)
            raise

    def _itree_inv_end(self, rng: NotifierRange) -> None:
        lock = self.lock
        lock.lock()
        if not self.active:
            lock.unlock()
            raise SimBug("invalidate_range_end without a matching invalidate_range_start")
        self.active -= 1
        if self.active or not self.invalidate_seq & 1:
            seq = self.invalidate_seq
            lock.unlock()
            if trace.enabled:
                trace.emit("notifier", "invalidate_range_end", start=rng.start, end=rng.end,
                           event=rng.event.name, seq=seq, active=self.active)
            return
        self.invalidate_seq += 1
        seq = self.invalidate_seq
        applied = len(self.deferred)
        for sub in self.deferred:
            if sub.in_tree:
                self.itree.remove(sub)
            else:
                self.itree.insert(sub)
        self.deferred.clear()
        lock.unlock()
        self.wq.wake_up_all()
        if trace.enabled:
            trace.emit("notifier", "invalidate_range_end", start=rng.start, end=rng.end,
                       event=rng.event.name, seq=seq, active=0, deferred=applied)

    def insert_interval(self, sub: MmuIntervalNotifier) -> bool:
        """Add ``sub`` (its start/end/ops set); True when the insert had to be deferred."""
        lock = self.lock
        lock.lock()
        deferred = False
        if self.active:
            if self.invalidate_seq & 1:
                self.deferred[sub] = None
                deferred = True
            else:
                self.invalidate_seq |= 1
                self.itree.insert(sub)
            sub.invalidate_seq = self.invalidate_seq
        else:
            if self.invalidate_seq & 1:
                lock.unlock()
                raise SimBug("odd invalidate_seq with no active invalidation")
            sub.invalidate_seq = self.invalidate_seq - 1
            self.itree.insert(sub)
        self._nr_intervals += 1
        lock.unlock()
        return deferred

    def remove_interval(self, sub: MmuIntervalNotifier) -> int:
        """Take ``sub`` out; returns the seq to wait past (0: removed at once)."""
        lock = self.lock
        lock.lock()
        wait_seq = 0
        try:
            if self.invalidate_seq & 1:
                if sub in self.deferred and not sub.in_tree:
                    del self.deferred[sub]              # its insert was never applied
                elif sub.in_tree and sub not in self.deferred:
                    self.deferred[sub] = None
                    wait_seq = self.invalidate_seq
                else:
                    raise SimBug(f"remove of an unregistered interval [{sub.start:#x}, "
                                 f"{sub.end:#x})")
            else:
                if not sub.in_tree:
                    raise SimBug(f"remove of an unregistered interval [{sub.start:#x}, "
                                 f"{sub.end:#x})")
                self.itree.remove(sub)
            self._nr_intervals -= 1
        finally:
            lock.unlock()
        return wait_seq

    def wait_seq_released(self, seq: int) -> None:
        """Sleep until the invalidation that had ``seq`` has ended."""
        # An int load is atomic in CPython; the kernel's spinlock here only orders memory.
        self.wq.wait_event(lambda: self.invalidate_seq != seq)

    def read_begin(self, sub: MmuIntervalNotifier) -> tuple[int, bool]:
        """``(seq, slept)``: the interval's seq, after any overlapping invalidation ended."""
        lock = self.lock
        lock.lock()
        seq = sub.invalidate_seq
        invalidating = seq == self.invalidate_seq
        lock.unlock()
        map_might_wait()
        if invalidating:
            self.wait_seq_released(seq)
        return seq, invalidating

def subscriptions_of(mm: NotifierMm) -> MmuNotifierSubscriptions | None:
    subs = mm.notifier_subscriptions
    if subs is None or isinstance(subs, MmuNotifierSubscriptions):
        return subs
    raise SimBug(f"foreign notifier_subscriptions object {subs!r}")


def install_locked(mm: NotifierMm, itree: bool) -> MmuNotifierSubscriptions:
    """The allocation half of ``__mmu_notifier_register``: mmap_lock held for write."""
    if not mm.mmap_lock.held_for_write():
        raise SimBug("notifier registration without mmap_lock held for write")
    subs = subscriptions_of(mm)
    if subs is None:
        subs = MmuNotifierSubscriptions()
        mm.notifier_subscriptions = subs
    if itree:
        subs.has_itree = True
    return subs
