"""Raising mmu-notifier range events from the address space (``mmu_notifier_range_init`` +
``invalidate_range_start`` / ``_end``), with the "does anyone listen?" fast path.

:func:`range_start` returns the range it announced, or None when nobody subscribes; the
caller hands that value back to :func:`range_end`.  Pairing the two calls on the returned
value (rather than re-reading ``mm.notifier_subscriptions``) means an ``end`` is never
raised for a ``start`` that was not.  Subscriptions are installed with ``mmap_lock`` held
for write, so they cannot appear in the middle of a syscall.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import notify
from .notify import NotifierRange, NotifyEvent

if TYPE_CHECKING:
    from .mm import Mm

__all__ = ["range_start", "range_end", "ULONG_MAX"]

ULONG_MAX = (1 << 64) - 1


def range_start(mm: Mm, start: int, end: int, event: NotifyEvent) -> NotifierRange | None:
    if mm.notifier_subscriptions is None:
        return None
    rng = NotifierRange(mm, start, end, event)
    notify.invalidate_range_start(mm, rng)
    return rng


def range_end(mm: Mm, rng: NotifierRange | None) -> None:
    if rng is not None:
        notify.invalidate_range_end(mm, rng)
