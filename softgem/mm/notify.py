"""The mm side of mmu notifiers: range events and the hook an address space calls.

The notifier machinery itself lives one layer up (:mod:`softgem.notifier`), as the kernel
keeps ``mm/mmu_notifier.c`` apart from the code that raises the events.  An address space
holds ``notifier_subscriptions`` (None until someone registers: the "does anyone listen?"
fast path) and calls :func:`invalidate_range_start` / :func:`invalidate_range_end` around
every change to its page tables, and :func:`release` when it is torn down.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

__all__ = [
    "NotifyEvent",
    "NotifierRange",
    "NotifierSubscriptions",
    "HasNotifierSubscriptions",
    "invalidate_range_start",
    "invalidate_range_end",
    "release",
]


class NotifyEvent(enum.IntEnum):
    """``enum mmu_notifier_event`` (same order and values as the kernel)."""

    UNMAP = 0
    CLEAR = 1
    PROTECTION_VMA = 2
    PROTECTION_PAGE = 3
    SOFT_DIRTY = 4
    RELEASE = 5
    MIGRATE = 6
    EXCLUSIVE = 7


class NotifierRange:
    """``struct mmu_notifier_range``: the half-open range ``[start, end)`` of ``mm``.

    A hand-written slotted class rather than a frozen dataclass: one is built for every
    munmap, and the dataclass constructor costs about 1.5 us more (bench impact).  Treat
    instances as immutable.
    """

    __slots__ = ("blockable", "end", "event", "mm", "owner", "start")

    def __init__(self, mm: Any, start: int, end: int, event: NotifyEvent,
                 blockable: bool = True, owner: object = None) -> None:
        if not start < end:
            from ..errors import SimBug

            raise SimBug(f"empty or inverted notifier range [{start:#x}, {end:#x})")
        self.mm = mm
        self.start = start
        self.end = end
        self.event = event
        self.blockable = blockable
        self.owner = owner

    def _key(self) -> tuple[Any, ...]:
        return (id(self.mm), self.start, self.end, self.event, self.blockable, self.owner)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NotifierRange):
            return NotImplemented
        return self.mm is other.mm and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.event))

    def __repr__(self) -> str:
        return (f"NotifierRange([{self.start:#x}, {self.end:#x}), {self.event.name}"
                f"{'' if self.blockable else ', non-blockable'})")


class NotifierSubscriptions(Protocol):
    """What :mod:`softgem.notifier` installs on an address space (``mm->notifier_subscriptions``)."""

    def invalidate_range_start(self, rng: NotifierRange) -> None:
        """Tell every subscriber overlapping ``rng``.  Raises EAGAIN only for a non-blockable
        range some subscriber refused; the caller must then not call ``invalidate_range_end``."""

    def invalidate_range_end(self, rng: NotifierRange) -> None:
        ...

    def release(self, mm: Any) -> None:
        """The address space is being torn down (``exit_mmap``)."""


class HasNotifierSubscriptions(Protocol):
    notifier_subscriptions: NotifierSubscriptions | None


def invalidate_range_start(mm: HasNotifierSubscriptions, rng: NotifierRange) -> None:
    subs = mm.notifier_subscriptions
    if subs is not None:
        subs.invalidate_range_start(rng)


def invalidate_range_end(mm: HasNotifierSubscriptions, rng: NotifierRange) -> None:
    subs = mm.notifier_subscriptions
    if subs is not None:
        subs.invalidate_range_end(rng)


def release(mm: HasNotifierSubscriptions) -> None:
    subs = mm.notifier_subscriptions
    if subs is not None:
        subs.release(mm)
