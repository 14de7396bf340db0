"""Whole-address-space notifiers (``struct mmu_notifier``), with the kernel's names.

A whole-mm notifier hears every range the address space invalidates (start and end), and
``release`` when the address space is torn down.  The i915 of 2014-2020 used one per mm
with its own interval tree; the interval notifier (:mod:`softgem.notifier.interval`)
replaced that.  Both coexist on one :class:`MmuNotifierSubscriptions`.

Lifetime, as in the kernel: ``release`` is called by whichever of exit_mmap and
:func:`mmu_notifier_unregister` comes first (both, if they race: the kernel allows that
too); once unregister returns no callback of the notifier is running or will run (it waits
an SRCU grace period for callbacks already walking the list).
"""

from __future__ import annotations

from typing import Any, Protocol

from .. import trace
from ..errors import SimBug
from ..mm import NotifierRange
from .hlist import hlist_add, hlist_del
from .subscriptions import NotifierMm, install_locked, subscriptions_of

__all__ = [
    "MmuNotifierOps",
    "MmuNotifier",
    "mmu_notifier_register",
    "mmu_notifier_register_locked",
    "mmu_notifier_unregister",
]


class MmuNotifierOps(Protocol):
    """``struct mmu_notifier_ops`` (the range and release callbacks)."""

    def invalidate_range_start(self, sub: MmuNotifier, rng: NotifierRange) -> bool:
        """Return False only for a non-blockable ``rng`` that would need to sleep; the start
        then fails with EAGAIN and this notifier gets no end for it."""
        ...

    def invalidate_range_end(self, sub: MmuNotifier, rng: NotifierRange) -> None:
        ...

    def release(self, sub: MmuNotifier, mm: Any) -> None:
        """The address space is going away (or this notifier is being unregistered)."""
        ...


class MmuNotifier:
    """``struct mmu_notifier``.  ``hashed`` is the kernel's ``!hlist_unhashed``: on the list."""

    __slots__ = ("hashed", "mm", "ops")

    def __init__(self, ops: MmuNotifierOps) -> None:
        self.ops = ops
        self.mm: NotifierMm | None = None
        self.hashed = False

    def __repr__(self) -> str:
        return f"MmuNotifier({type(self.ops).__name__}, hashed={self.hashed})"


def mmu_notifier_register_locked(sub: MmuNotifier, mm: NotifierMm) -> None:
    """``__mmu_notifier_register``: the caller holds ``mm.mmap_lock`` for write."""
    if sub.mm is not None:
        raise SimBug(f"{sub!r} registered twice")
    subs = install_locked(mm, itree=False)
    sub.mm = mm
    hlist_add(subs, sub)
    if trace.enabled:
        trace.emit("notifier", "register", notifier=type(sub.ops).__name__)


def mmu_notifier_register(sub: MmuNotifier, mm: NotifierMm) -> None:
    """Attach ``sub`` to ``mm``; takes ``mm.mmap_lock`` for write (must not be held)."""
    with mm.mmap_lock.write():
        mmu_notifier_register_locked(sub, mm)


def mmu_notifier_unregister(sub: MmuNotifier, mm: NotifierMm) -> None:
    """Detach ``sub``; calls its ``release`` unless exit_mmap already did, then waits for
    callbacks still running.  Must not be called from a callback."""
    if sub.mm is not mm:
        raise SimBug(f"{sub!r} is not registered on this address space")
    subs = subscriptions_of(mm)
    if subs is None:
        raise SimBug("unregister on an address space without subscriptions")
    if sub.hashed:
        idx = subs.srcu.read_lock()
        try:
            sub.ops.release(sub, mm)
        finally:
            subs.srcu.read_unlock(idx)
        hlist_del(subs, sub)
    subs.srcu.synchronize()
    sub.mm = None
    if trace.enabled:
        trace.emit("notifier", "unregister", notifier=type(sub.ops).__name__)
