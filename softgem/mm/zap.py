"""Tearing mappings down: zapping ptes, munmap, and exit_mmap.

Every pte removal is announced first: ``range_start`` before the ptes go, ``range_end``
after.  Which event:

| caller                                   | event  | range                          |
|------------------------------------------|--------|--------------------------------|
| munmap, MAP_FIXED over a mapping, brk    | UNMAP  | the requested range, as soon as |
|                                          |        | any VMA overlaps it (even if no |
|                                          |        | pte was ever populated)         |
| madvise(DONTNEED), unmap_mapping_range   | CLEAR  | the part inside one VMA         |
| exit_mmap                                | RELEASE to whole-mm notifiers, then UNMAP over [0, ULONG_MAX) |

Pages are released after the page-table lock is dropped, in one batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..units import PAGE_SHIFT, TASK_SIZE
from . import events, notify
from .notify import NotifyEvent
from .pagetable import PTE_SPECIAL
from .vmaops import close_vma, split_vma

if TYPE_CHECKING:
    from .mm import Mm
    from .vma import Vma

__all__ = ["zap_ptes", "zap_vma_range", "do_munmap", "exit_mmap"]


def zap_ptes(mm: Mm, start: int, end: int) -> int:
    """Drop every pte in ``[start, end)`` and the page references they held."""
    if not mm.pt.any_table(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
        return 0  # nothing was ever mapped here: skip the lock
    with mm.page_table_lock:
        removed = mm.pt.clear_range(start >> PAGE_SHIFT, end >> PAGE_SHIFT)
    if removed:
        mm.phys.put_pages([pte >> 2 for _, pte in removed if not pte & PTE_SPECIAL])
    return len(removed)


def zap_vma_range(mm: Mm, vma: Vma, start: int, end: int,
                  event: NotifyEvent = NotifyEvent.CLEAR) -> None:
    """``zap_page_range_single``: clear the ptes of ``[start, end)`` inside ``vma``.  The
    VMA stays; the next access faults again."""
    start = max(start, vma.start)
    end = min(end, vma.end)
    if start >= end:
        return
    rng = events.range_start(mm, start, end, event)
    try:
        zap_ptes(mm, start, end)
    finally:
        events.range_end(mm, rng)


def do_munmap(mm: Mm, start: int, end: int) -> None:
    """Unmap page-aligned ``[start, end)``; mmap_lock held for write.  Raises ENOMEM only
    when a split would exceed ``vm.max_map_count``."""
    vmas = mm.tree.overlapping(start, end)
    if not vmas:
        return
    first, last = vmas[0], vmas[-1]
    if start > first.start:
        vmas[0] = split_vma(mm, first, start)
        if first is last:
            last = vmas[-1]
    if end < last.end:
        split_vma(mm, last, end)
    rng = events.range_start(mm, start, end, NotifyEvent.UNMAP)
    try:
        zap_ptes(mm, start, end)
    finally:
        events.range_end(mm, rng)
    _detach(mm, vmas, start, end)


def _detach(mm: Mm, vmas: list[Vma], start: int, end: int) -> None:
    """Take unmapped VMAs out of the tree, free their page tables, then tell their files."""
    for v in vmas:
        mm.tree.unlink(v)
        mm.tree.release(v.start, v.end)
    prev, nxt = mm.tree.neighbours(start, end)
    floor = prev.end if prev is not None else 0
    ceiling = nxt.start if nxt is not None else TASK_SIZE
    if mm.pt.any_table(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
        with mm.page_table_lock:
            mm.pt.free_tables(floor, ceiling, start, end)
    for v in vmas:
        close_vma(v)


def exit_mmap(mm: Mm) -> None:
    """Tear the whole address space down (``exit_mmap``); a second call does nothing."""
    with mm.mmap_lock.write():
        if mm.exited:
            return
        mm.exited = True
    notify.release(mm)
    with mm.mmap_lock.write():
        vmas = mm.tree.all()
        if not vmas:
            return
        rng = events.range_start(mm, 0, events.ULONG_MAX, NotifyEvent.UNMAP)
        try:
            zap_ptes(mm, 0, TASK_SIZE)
        finally:
            events.range_end(mm, rng)
        _detach(mm, vmas, 0, TASK_SIZE)
