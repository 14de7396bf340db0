"""The whole-mm notifier list of one address space (the kernel's ``subscriptions->list``).

Published copy-on-write: ``subs.hlist`` is a tuple, replaced under ``subs.lock`` and read
without it, so a walker sees one consistent snapshot (the RCU half).  Walkers hold an SRCU
read section (``subs.srcu``) so callbacks may sleep and ``mmu_notifier_unregister`` can wait
for the ones already running (the grace period half).  Newest first, like ``hlist_add_head``.

Refusals: a callback may return False from ``invalidate_range_start`` only for a
non-blockable range; every notifier still sees the start, those that accepted get their
``invalidate_range_end`` at once, and the start fails with EAGAIN.  (The kernel calls end on
every notifier that has one and warns if a refuser has one; calling it only on acceptors is
the same for well-formed notifiers.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import EAGAIN, SimBug
from ..mm import NotifierRange

if TYPE_CHECKING:
    from .mmu_notifier import MmuNotifier
    from .subscriptions import MmuNotifierSubscriptions

__all__ = ["hlist_add", "hlist_del", "hlist_invalidate_end", "hlist_invalidate_range_start",
           "hlist_release"]


def hlist_invalidate_range_start(subs: MmuNotifierSubscriptions, rng: NotifierRange) -> None:
    idx = subs.srcu.read_lock()
    try:
        started: list[MmuNotifier] = []
        refused = False
        for sub in subs.hlist:
            if sub.ops.invalidate_range_start(sub, rng):
                started.append(sub)
            elif rng.blockable:
                raise SimBug(f"mmu notifier {sub!r} refused a blockable range")
            else:
                refused = True
        if refused:
            for sub in started:
                sub.ops.invalidate_range_end(sub, rng)
            raise EAGAIN("an mmu notifier refused a non-blockable range")
    finally:
        subs.srcu.read_unlock(idx)


def hlist_invalidate_end(subs: MmuNotifierSubscriptions, rng: NotifierRange) -> None:
    idx = subs.srcu.read_lock()
    try:
        for sub in subs.hlist:
            sub.ops.invalidate_range_end(sub, rng)
    finally:
        subs.srcu.read_unlock(idx)


def hlist_release(subs: MmuNotifierSubscriptions, mm: Any) -> None:
    """``mn_hlist_release``: ``release`` for everyone, then empty the list and wait for
    an unregister that is running a ``release`` of its own."""
    idx = subs.srcu.read_lock()
    try:
        for sub in subs.hlist:
            sub.ops.release(sub, mm)
    finally:
        subs.srcu.read_unlock(idx)
    with subs.lock:
        for sub in subs.hlist:
            sub.hashed = False       # a later unregister will not call release again
        subs.hlist = ()
    subs.srcu.synchronize()


def hlist_add(subs: MmuNotifierSubscriptions, sub: MmuNotifier) -> None:
    with subs.lock:
        subs.hlist = (sub, *subs.hlist)
        sub.hashed = True


def hlist_del(subs: MmuNotifierSubscriptions, sub: MmuNotifier) -> None:
    with subs.lock:
        if sub.hashed:
            subs.hlist = tuple(n for n in subs.hlist if n is not sub)
            sub.hashed = False
