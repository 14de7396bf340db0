"""The ordered VMAs of one address space and the free gaps between them (the maple tree).

VMAs are kept sorted by start in two parallel lists searched with ``bisect``: lookups are
O(log n) and an insertion is one memmove.  Free address space is kept as a sorted dict of
gaps ``start -> end``, so finding room for a new mapping visits gaps, not VMAs -- a process
with thousands of packed mappings still maps in O(log n) (the kernel keeps the largest gap
per subtree for the same reason).

Changing the *set of covered addresses* goes through :meth:`occupy` / :meth:`release`;
changing how covered addresses are cut into VMAs (split, merge) goes through :meth:`link` /
:meth:`unlink` / :meth:`restart`, which leave the gaps alone.  All under mmap_lock (write).

Rejected alternative: one ``SortedKeyList`` of VMAs keyed by start.  VMAs are mutable (a
merge moves a start), and a list keyed on a mutable field silently corrupts; the explicit
``restart`` keeps the index honest.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from sortedcontainers import SortedDict

from ..errors import SimBug

if TYPE_CHECKING:
    from .vma import Vma

__all__ = ["VmaTree"]


class VmaTree:
    __slots__ = ("_gaps", "_starts", "_vmas")

    def __init__(self, low: int, high: int) -> None:
        self._starts: list[int] = []
        self._vmas: list[Vma] = []
        self._gaps = SortedDict({low: high})

    # -- lookups -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._vmas)

    def all(self) -> list[Vma]:
        return list(self._vmas)

    def lookup(self, addr: int) -> Vma | None:
        """The VMA containing ``addr`` (``vma_lookup``)."""
        i = bisect_right(self._starts, addr) - 1
        if i >= 0:
            v = self._vmas[i]
            if addr < v.end:
                return v
        return None

    def find(self, addr: int) -> Vma | None:
        """The first VMA ending above ``addr`` (``find_vma``: it may start above ``addr``)."""
        i = bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._vmas[i].end:
            return self._vmas[i]
        i += 1
        return self._vmas[i] if i < len(self._vmas) else None

    def overlapping(self, start: int, end: int) -> list[Vma]:
        """VMAs intersecting ``[start, end)``, in address order."""
        i = bisect_right(self._starts, start) - 1
        if i < 0 or self._vmas[i].end <= start:
            i += 1
        out = []
        vmas = self._vmas
        while i < len(vmas) and vmas[i].start < end:
            out.append(vmas[i])
            i += 1
        return out

    def intersects(self, start: int, end: int) -> bool:
        v = self.find(start)
        return v is not None and v.start < end

    def prev(self, vma: Vma) -> Vma | None:
        i = self._index(vma)
        return self._vmas[i - 1] if i > 0 else None

    def next(self, vma: Vma) -> Vma | None:
        i = self._index(vma) + 1
        return self._vmas[i] if i < len(self._vmas) else None

    def neighbours(self, start: int, end: int) -> tuple[Vma | None, Vma | None]:
        """The VMA ending at or before ``start`` and the one starting at or after ``end``."""
        i = bisect_right(self._starts, start) - 1
        prev = self._vmas[i] if i >= 0 and self._vmas[i].end <= start else None
        j = bisect_right(self._starts, end - 1)
        nxt = self._vmas[j] if j < len(self._vmas) else None
        return prev, nxt

    def _index(self, vma: Vma) -> int:
        i = bisect_right(self._starts, vma.start) - 1
        if i < 0 or self._vmas[i] is not vma:
            raise SimBug(f"{vma!r} is not in the tree")
        return i

    # -- structure (coverage unchanged) --------------------------------------------------
    def link(self, vma: Vma) -> None:
        i = bisect_right(self._starts, vma.start)
        if i > 0 and self._vmas[i - 1].end > vma.start:
            raise SimBug(f"{vma!r} overlaps {self._vmas[i - 1]!r}")
        if i < len(self._vmas) and self._vmas[i].start < vma.end:
            raise SimBug(f"{vma!r} overlaps {self._vmas[i]!r}")
        self._starts.insert(i, vma.start)
        self._vmas.insert(i, vma)

    def unlink(self, vma: Vma) -> None:
        i = self._index(vma)
        del self._starts[i]
        del self._vmas[i]

    def restart(self, vma: Vma, new_start: int) -> None:
        """Move ``vma.start`` (a merge or split moving a boundary), keeping the index."""
        i = self._index(vma)
        vma.start = new_start
        self._starts[i] = new_start

    # -- coverage ------------------------------------------------------------------------
    def occupy(self, start: int, end: int) -> None:
        """Mark ``[start, end)`` used; it must lie inside one free gap."""
        i = self._gaps.bisect_right(start) - 1
        if i < 0:
            raise SimBug(f"occupy [{start:#x}, {end:#x}) outside any gap")
        gs, ge = self._gaps.peekitem(i)
        if ge < end:
            raise SimBug(f"occupy [{start:#x}, {end:#x}) not inside gap [{gs:#x}, {ge:#x})")
        del self._gaps[gs]
        if gs < start:
            self._gaps[gs] = start
        if end < ge:
            self._gaps[end] = ge

    def release(self, start: int, end: int) -> None:
        """Mark ``[start, end)`` free again, merging with adjacent gaps."""
        gaps = self._gaps
        i = gaps.bisect_right(start) - 1
        if i >= 0:
            ps, pe = gaps.peekitem(i)
            if pe > start:
                raise SimBug(f"release [{start:#x}, {end:#x}) overlaps gap [{ps:#x}, {pe:#x})")
            if pe == start:
                start = ps
                del gaps[ps]
        ne = gaps.pop(end, None)
        if ne is not None:
            end = ne
        gaps[start] = end

    def gap_top_down(self, length: int, low: int, high: int) -> int | None:
        """The highest start ``s`` with ``[s, s+length)`` free inside ``[low, high)``."""
        gaps = self._gaps
        for gs in gaps.irange(maximum=high, inclusive=(True, False), reverse=True):
            ge: int = gaps[gs]
            top = min(ge, high)
            if top <= low:
                return None
            if top - max(gs, low) >= length:
                return top - length
        return None

    def gap_bottom_up(self, length: int, low: int, high: int) -> int | None:
        """The lowest start ``s`` with ``[s, s+length)`` free inside ``[low, high)``."""
        gaps = self._gaps
        i = max(gaps.bisect_right(low) - 1, 0)
        gs: int
        for gs in gaps.islice(i):
            if gs >= high:
                return None
            bottom = max(gs, low)
            ge: int = gaps[gs]
            if min(ge, high) - bottom >= length:
                return bottom
        return None

    def is_free(self, start: int, end: int) -> bool:
        i = self._gaps.bisect_right(start) - 1
        if i < 0:
            return False
        gs, ge = self._gaps.peekitem(i)
        return bool(gs <= start and end <= ge)

    def nr_gaps(self) -> int:
        return len(self._gaps)
