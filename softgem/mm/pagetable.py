"""Page tables of one address space: virtual page number -> pte.

A pte is an int: ``pfn << PTE_PFN_SHIFT | PTE_WRITE | PTE_SPECIAL``.  Ints are immutable, so
a pte read without the lock is a consistent snapshot, and comparing it with a later read
tells whether it changed.  ``PTE_SPECIAL`` marks ptes that hold no page reference (VM_PFNMAP
ptes and the zero page), like the kernel's ``pte_special``.

Two levels, like the kernel's last two: ``tables[vpn >> 9]`` is one PTE table covering 2 MiB
(a PMD entry), a dict ``vpn -> pte``.  Tables are allocated on the first pte installed under
them and survive zapping (``MADV_DONTNEED`` keeps them); :meth:`free_tables` frees them when
no VMA covers their span any more (``free_pgtables`` after munmap).  ``mprotect`` only
notifies over page-table-populated ranges, which is why tables are tracked at all; the count
of tables per 1 GiB (PUD) range answers "is this PUD populated" in O(1).

Every mutation happens under the owning mm's ``page_table_lock``.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "PageTable", "PTE_WRITE", "PTE_SPECIAL", "PTE_PFN_SHIFT", "PMD_SHIFT", "PUD_SHIFT",
    "P4D_SHIFT", "make_pte", "pte_pfn",
]

PTE_WRITE = 0x1
PTE_SPECIAL = 0x2
PTE_PFN_SHIFT = 2

PMD_SHIFT = 21          # one PTE table spans 2 MiB
PUD_SHIFT = 30          # one PMD table spans 1 GiB
P4D_SHIFT = 39          # one PUD table spans 512 GiB
_VPN_PER_TABLE_SHIFT = PMD_SHIFT - 12
_TABLES_PER_PUD_SHIFT = PUD_SHIFT - PMD_SHIFT


def make_pte(pfn: int, write: bool, special: bool = False) -> int:
    return (pfn << PTE_PFN_SHIFT) | (PTE_WRITE if write else 0) | (PTE_SPECIAL if special else 0)


def pte_pfn(pte: int) -> int:
    return pte >> PTE_PFN_SHIFT


class PageTable:
    __slots__ = ("nr_present", "pud_tables", "tables")

    def __init__(self) -> None:
        self.tables: dict[int, dict[int, int]] = {}
        self.pud_tables: dict[int, int] = {}
        self.nr_present = 0

    def lookup(self, vpn: int) -> int | None:
        t = self.tables.get(vpn >> _VPN_PER_TABLE_SHIFT)
        return None if t is None else t.get(vpn)

    def set(self, vpn: int, pte: int) -> None:
        """Install or replace the pte of ``vpn``, allocating its table if needed."""
        ti = vpn >> _VPN_PER_TABLE_SHIFT
        t = self.tables.get(ti)
        if t is None:
            t = self.tables[ti] = {}
            pud = ti >> _TABLES_PER_PUD_SHIFT
            self.pud_tables[pud] = self.pud_tables.get(pud, 0) + 1
        if vpn not in t:
            self.nr_present += 1
        t[vpn] = pte

    def clear(self, vpn: int) -> int | None:
        t = self.tables.get(vpn >> _VPN_PER_TABLE_SHIFT)
        if t is None:
            return None
        pte = t.pop(vpn, None)
        if pte is not None:
            self.nr_present -= 1
        return pte

    def _table_indices(self, vpn_start: int, vpn_end: int) -> list[int]:
        """Indices of allocated tables overlapping ``[vpn_start, vpn_end)``, ascending.

        Walks the range when it is short and the allocated tables when the range is huge
        (exit_mmap over the whole address space)."""
        first = vpn_start >> _VPN_PER_TABLE_SHIFT
        last = (vpn_end - 1) >> _VPN_PER_TABLE_SHIFT
        if last - first < 2 * len(self.tables) + 8:
            tables = self.tables
            return [i for i in range(first, last + 1) if i in tables]
        return sorted(i for i in self.tables if first <= i <= last)

    def any_table(self, vpn_start: int, vpn_end: int) -> bool:
        """Whether any table overlaps ``[vpn_start, vpn_end)`` (a cheap pre-check)."""
        if not self.tables or vpn_start >= vpn_end:
            return False
        first = vpn_start >> _VPN_PER_TABLE_SHIFT
        last = (vpn_end - 1) >> _VPN_PER_TABLE_SHIFT
        if first == last:
            return first in self.tables
        return True

    def items(self, vpn_start: int, vpn_end: int) -> Iterator[tuple[int, int]]:
        """(vpn, pte) of present ptes in ``[vpn_start, vpn_end)``, ascending.  Do not mutate
        the table while iterating."""
        if vpn_start >= vpn_end:
            return
        for ti in self._table_indices(vpn_start, vpn_end):
            t = self.tables[ti]
            lo = max(vpn_start, ti << _VPN_PER_TABLE_SHIFT)
            hi = min(vpn_end, (ti + 1) << _VPN_PER_TABLE_SHIFT)
            if hi - lo < 2 * len(t):
                for vpn in range(lo, hi):
                    pte = t.get(vpn)
                    if pte is not None:
                        yield vpn, pte
            else:
                for vpn in sorted(v for v in t if lo <= v < hi):
                    yield vpn, t[vpn]

    def clear_range(self, vpn_start: int, vpn_end: int) -> list[tuple[int, int]]:
        """Remove every pte in ``[vpn_start, vpn_end)``; returns the removed (vpn, pte)."""
        removed = list(self.items(vpn_start, vpn_end))
        tables = self.tables
        for vpn, _ in removed:
            del tables[vpn >> _VPN_PER_TABLE_SHIFT][vpn]
        self.nr_present -= len(removed)
        return removed

    def free_tables(self, floor: int, ceiling: int, start: int, end: int) -> None:
        """Free the (empty) tables overlapping ``[start, end)`` whose whole 2 MiB span lies in
        ``[floor, ceiling)``, the gap between the neighbouring VMAs (addresses in bytes)."""
        if start >= end:
            return
        for ti in self._table_indices(start >> 12, end >> 12):
            lo = ti << PMD_SHIFT
            if lo < floor or lo + (1 << PMD_SHIFT) > ceiling:
                continue
            if self.tables[ti]:
                continue  # still maps something (cannot happen after a zap; be safe)
            del self.tables[ti]
            pud = ti >> _TABLES_PER_PUD_SHIFT
            n = self.pud_tables[pud] - 1
            if n:
                self.pud_tables[pud] = n
            else:
                del self.pud_tables[pud]

    def pud_populated(self, addr: int) -> bool:
        """Whether the 1 GiB range holding ``addr`` has any page table below it."""
        return (addr >> PUD_SHIFT) in self.pud_tables

    def first_populated(self, start: int, end: int) -> int | None:
        """The lowest address in ``[start, end)`` whose PUD is populated, clamped to
        ``start``; None if none is (the walk ``change_pud_range`` does)."""
        first = start >> PUD_SHIFT
        last = (end - 1) >> PUD_SHIFT
        if last - first < 64:
            hits = [p for p in range(first, last + 1) if p in self.pud_tables]
        else:
            hits = sorted(p for p in self.pud_tables if first <= p <= last)
        if not hits:
            return None
        return max(start, hits[0] << PUD_SHIFT)

    def nr_tables(self) -> int:
        return len(self.tables)
