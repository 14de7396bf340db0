"""The interval notifier API (``mmu_interval_notifier``), with the kernel's names.

A driver that mirrors part of an address space (the i915 userptr mirrors ``[ptr, ptr+size)``)
registers one :class:`MmuIntervalNotifier` and uses the collision-retry protocol documented
in :mod:`softgem.notifier.subscriptions`::

    seq = mmu_interval_read_begin(sub)      # sleeps while an invalidation of sub runs
    ... pin pages, build the mapping (may sleep) ...
    with driver_lock:                       # the lock invalidate() also takes (if any)
        if mmu_interval_read_retry(sub, seq):
            ... drop what was built; try again ...
        ... publish the mapping ...

and whose ``invalidate`` callback calls :func:`mmu_interval_set_seq` with ``cur_seq``.

Errors: :func:`mmu_interval_notifier_insert` raises EOVERFLOW for a zero length or a range
that wraps the 64-bit address space, exactly as the kernel does (checked after the
subscriptions are installed, also as the kernel does).  Misuse (double insert, remove of a
notifier never inserted) is a SimBug.
"""

from __future__ import annotations

from typing import Protocol

from .. import trace
from ..errors import EOVERFLOW, SimBug
from ..mm import NotifierRange
from .interval_tree import IntervalNode
from .subscriptions import (
    MmuNotifierSubscriptions,
    NotifierMm,
    install_locked,
    map_might_wait,
    subscriptions_of,
)

__all__ = [
    "MmuIntervalNotifierOps",
    "MmuIntervalNotifier",
    "mmu_interval_notifier_insert",
    "mmu_interval_notifier_insert_locked",
    "mmu_interval_notifier_remove",
    "mmu_interval_read_begin",
    "mmu_interval_read_retry",
    "mmu_interval_check_retry",
    "mmu_interval_set_seq",
]

_ULONG_MAX = (1 << 64) - 1


class MmuIntervalNotifierOps(Protocol):
    """``struct mmu_interval_notifier_ops``."""

    def invalidate(self, sub: MmuIntervalNotifier, rng: NotifierRange, cur_seq: int) -> bool:
        """``rng`` overlaps ``sub``: call :func:`mmu_interval_set_seq` (under the driver
        lock that guards ``read_retry``) and return True.  May return False only when
        ``rng.blockable`` is False and the driver would have to sleep."""
        ...


class MmuIntervalNotifier(IntervalNode):
    """``struct mmu_interval_notifier``: one watched interval ``[start, end)`` of ``mm``.

    ``invalidate_seq`` is this interval's own copy of the sequence: odd values only, set by
    insert and by :func:`mmu_interval_set_seq`; compared by read_begin/read_retry.
    """

    __slots__ = ("invalidate_seq", "mm", "ops")

    def __init__(self) -> None:
        super().__init__()
        self.mm: NotifierMm | None = None
        self.ops: MmuIntervalNotifierOps | None = None
        self.invalidate_seq = 0

    def __repr__(self) -> str:
        return f"MmuIntervalNotifier([{self.start:#x}, {self.end:#x}), seq={self.invalidate_seq})"


def _subs(sub: MmuIntervalNotifier) -> MmuNotifierSubscriptions:
    subs = subscriptions_of(sub.mm) if sub.mm is not None else None
    if subs is None:
        raise SimBug(f"{sub!r} was never inserted")
    return subs


def _insert(sub: MmuIntervalNotifier, mm: NotifierMm, subs: MmuNotifierSubscriptions,
            start: int, length: int, ops: MmuIntervalNotifierOps) -> None:
    if sub.in_tree or sub.mm is not None:
        raise SimBug(f"{sub!r} inserted twice")
    if start < 0 or length < 0:
        raise SimBug("interval start and length are unsigned")
    if length == 0 or start + length - 1 > _ULONG_MAX:
        raise EOVERFLOW(f"interval at {start:#x} of length {length:#x}")
    sub.mm = mm
    sub.ops = ops
    sub.start = start
    sub.end = start + length
    deferred = subs.insert_interval(sub)
    if trace.enabled:
        trace.emit("notifier", "insert", start=sub.start, end=sub.end,
                   seq=sub.invalidate_seq, deferred=deferred)


def mmu_interval_notifier_insert(sub: MmuIntervalNotifier, mm: NotifierMm, start: int,
                                 length: int, ops: MmuIntervalNotifierOps) -> None:
    """Watch ``[start, start+length)`` of ``mm``.  Takes ``mm.mmap_lock`` for write when the
    address space has no interval subscriptions yet; must not be called with it held.

    The interval may not be in the index yet on return (deferred behind a running
    invalidation); callers establish mappings with read_begin/read_retry, which cover that.
    """
    subs = subscriptions_of(mm)
    if subs is None or not subs.has_itree:
        mm.mmap_lock.down_write()
        try:
            subs = install_locked(mm, itree=True)
        finally:
            mm.mmap_lock.up_write()
    _insert(sub, mm, subs, start, length, ops)


def mmu_interval_notifier_insert_locked(sub: MmuIntervalNotifier, mm: NotifierMm,
                                        start: int, length: int,
                                        ops: MmuIntervalNotifierOps) -> None:
    """As :func:`mmu_interval_notifier_insert`, with ``mm.mmap_lock`` already held for write."""
    subs = subscriptions_of(mm)
    if subs is None or not subs.has_itree:
        subs = install_locked(mm, itree=True)
    elif not mm.mmap_lock.held_for_write():
        raise SimBug("mmu_interval_notifier_insert_locked without mmap_lock held for write")
    _insert(sub, mm, subs, start, length, ops)


def mmu_interval_notifier_remove(sub: MmuIntervalNotifier) -> None:
    """Stop watching.  If an invalidation covering ``sub`` is running, sleep until it ends:
    on return no callback on ``sub`` is running and none will be called again.
    Must not be called from a callback, nor holding a lock a callback takes."""
    subs = _subs(sub)
    wait_seq = subs.remove_interval(sub)
    map_might_wait()
    if wait_seq:
        subs.wait_seq_released(wait_seq)
    if trace.enabled:
        trace.emit("notifier", "remove", start=sub.start, end=sub.end,
                   waited=bool(wait_seq))
    sub.mm = None


def mmu_interval_read_begin(sub: MmuIntervalNotifier) -> int:
    """Begin a read-side section over ``sub``; the result goes to :func:`mmu_interval_read_retry`.

    Sleeps while an invalidation that hit ``sub`` is still between start and end.  Does not
    loop: the returned seq may already be stale, which read_retry then reports.
    """
    seq, slept = _subs(sub).read_begin(sub)
    if trace.enabled:
        trace.emit("notifier", "read_begin", start=sub.start, end=sub.end, seq=seq,
                   slept=slept)
    return seq


def mmu_interval_read_retry(sub: MmuIntervalNotifier, seq: int) -> bool:
    """True when an invalidation hit ``sub`` since ``read_begin`` returned ``seq``.

    Call it under the driver lock that the ``invalidate`` callback takes around
    :func:`mmu_interval_set_seq`; then a False answer stays valid until that lock is dropped.
    """
    retry = sub.invalidate_seq != seq
    if trace.enabled:
        trace.emit("notifier", "read_retry", start=sub.start, end=sub.end, seq=seq,
                   cur=sub.invalidate_seq, retry=retry)
    return retry


def mmu_interval_check_retry(sub: MmuIntervalNotifier, seq: int) -> bool:
    """An unlocked, advisory :func:`mmu_interval_read_retry` (to bail out of long work early):
    a True answer is final, a False one may be stale by the time it is used."""
    return sub.invalidate_seq != seq


def mmu_interval_set_seq(sub: MmuIntervalNotifier, cur_seq: int) -> None:
    """From ``invalidate``: record the collision so read_retry reports it."""
    sub.invalidate_seq = cur_seq
