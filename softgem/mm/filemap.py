"""``struct address_space`` reduced to its ``i_mmap``: every VMA, in any mm, mapping a file.

:meth:`FileMapping.unmap_mapping_range` is how a driver revokes CPU mappings of part of a
file (i915 does it when an object's pages go away): it zaps the ptes of every VMA that maps
the range, in every process, raising a CLEAR notification on each.  Like the kernel it takes
only ``i_mmap_lock`` (read) and the page-table locks -- never an mmap_lock -- so it may run
from the fault path of another mapping or from a shrinker.

Lock order: mmap_lock -> i_mmap_lock -> page_table_lock.  VMAs are linked and unlinked
with i_mmap_lock held for write (and their mm's mmap_lock held for write).

VMAs are kept in insertion order (a dict used as an ordered set): iteration order is then
decided by the program, never by object identity.  The order also closes a race, as the
kernel's ``vma_interval_tree_insert_after`` does: fork and mremap link the new VMA *after*
the one whose ptes they copy or move, so a concurrent ``unmap_mapping_range`` either zaps
the source before the copy (nothing to copy) or reaches the new VMA after the copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..sync import RwSem
from ..units import PAGE_SHIFT

if TYPE_CHECKING:
    from .vma import Vma

__all__ = ["FileMapping"]


class FileMapping:
    """The i_mmap of one file.  ``release`` runs when the last VMA is unlinked (shmem uses
    it to free its pages, standing in for the last ``fput``)."""

    __slots__ = ("_release", "_vmas", "i_mmap_lock", "name")

    def __init__(self, name: str = "file", *, release: Callable[[], None] | None = None) -> None:
        self.name = name
        self.i_mmap_lock = RwSem("mm.i_mmap_lock")
        self._vmas: dict[Vma, None] = {}
        self._release = release

    def link(self, vma: Vma) -> None:
        with self.i_mmap_lock.write():
            self._vmas[vma] = None

    def unlink(self, vma: Vma) -> None:
        with self.i_mmap_lock.write():
            self._vmas.pop(vma, None)
            last = not self._vmas
        if last and self._release is not None:
            self._release()

    def link_locked(self, vma: Vma) -> None:
        """As :meth:`link`, with ``i_mmap_lock`` already held for write."""
        self._vmas[vma] = None

    def unlink_locked(self, vma: Vma) -> None:
        """Drop a VMA merged into a neighbour that still maps the file (never the last)."""
        self._vmas.pop(vma, None)

    def vmas(self) -> list[Vma]:
        """The VMAs mapping this file now (a snapshot)."""
        with self.i_mmap_lock.read():
            return list(self._vmas)

    def nr_vmas(self) -> int:
        return len(self._vmas)

    def mapped(self) -> bool:
        return bool(self._vmas)

    def unmap_mapping_range(self, start_pgoff: int = 0, nr_pages: int | None = None) -> None:
        """Zap every pte mapping file pages ``[start_pgoff, start_pgoff + nr_pages)``
        (``None``: to the end of the file), including private COW copies (``even_cows``)."""
        end_pgoff = None if nr_pages is None else start_pgoff + nr_pages
        with self.i_mmap_lock.read():
            for vma in list(self._vmas):
                first = max(start_pgoff, vma.pgoff)
                last = vma.pgoff + vma.nr_pages
                if end_pgoff is not None:
                    last = min(last, end_pgoff)
                if first >= last:
                    continue
                start = vma.start + ((first - vma.pgoff) << PAGE_SHIFT)
                end = vma.start + ((last - vma.pgoff) << PAGE_SHIFT)
                vma.mm.zap_vma_range(vma, start, end)

    def __repr__(self) -> str:
        return f"FileMapping({self.name!r}, {len(self._vmas)} vmas)"
