"""The object behind ``MAP_SHARED | MAP_ANONYMOUS`` (``shmem_zero_setup``).

A shared anonymous mapping is a tiny in-memory file: its pages live in the object's page
index (``pgoff -> pfn``), every VMA mapping it -- in this mm and, after fork, in children --
maps the same frames, and writes through any of them are seen by all.  Zapping a pte (for
``MADV_DONTNEED``) does not lose data: the next fault finds the page in the index again.

Lifetime: the object lives while any VMA maps it (its i_mmap is non-empty); the last unlink
frees its pages (pinned frames survive through their pins).  Its size is fixed at mmap
time: faults past it raise SIGBUS, which is what a shared anonymous mapping grown with
mremap does in Linux.

Lock order: mmap_lock -> shmem_lock -> page_table_lock -> phys_lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import KernelError
from ..sync import Mutex
from .filemap import FileMapping
from .vmops import VmFault

if TYPE_CHECKING:
    from .mm import Mm
    from .phys import PhysMem
    from .vma import Vma

__all__ = ["ShmemFile", "shmem_zero_setup"]


class ShmemFile:
    """A MappableFile and its own fault handler (it has no ``open``/``close``, so split
    pieces of one shared mapping merge back, as shmem VMAs do)."""

    __slots__ = ("_lock", "_pages", "mapping", "nr_pages", "phys")

    def __init__(self, phys: PhysMem, nr_pages: int) -> None:
        self.phys = phys
        self.nr_pages = nr_pages
        self.mapping = FileMapping("shmem", release=self._release)
        self._pages: dict[int, int] = {}
        self._lock = Mutex("mm.shmem_lock")

    def mmap(self, vma: Vma) -> None:
        vma.vm_ops = self

    def fault(self, vma: Vma, addr: int, write: bool) -> VmFault:
        pgoff = vma.pgoff_of(addr)
        if pgoff >= self.nr_pages:
            return VmFault.SIGBUS
        with self._lock:
            pfn = self._pages.get(pgoff)
            if pfn is None:
                try:
                    pfn = self._pages[pgoff] = self.phys.alloc_page()
                except KernelError:
                    return VmFault.OOM
            vma.mm.insert_page(vma, addr, pfn, writable=True)
        return VmFault.NOPAGE

    def punch_hole(self, pgoff: int, nr_pages: int) -> None:
        """``fallocate(PUNCH_HOLE)`` (MADV_REMOVE): the range reads back as zeros."""
        with self._lock:
            dropped = [self._pages.pop(p) for p in range(pgoff, pgoff + nr_pages)
                       if p in self._pages]
        self.mapping.unmap_mapping_range(pgoff, nr_pages)
        self.phys.put_pages(dropped)

    def nr_resident(self) -> int:
        return len(self._pages)

    def _release(self) -> None:
        with self._lock:
            pages = list(self._pages.values())
            self._pages.clear()
        self.phys.put_pages(pages)


def shmem_zero_setup(mm: Mm, vma: Vma) -> None:
    """Back a new shared anonymous VMA with a fresh shmem object."""
    shm = ShmemFile(mm.phys, vma.nr_pages)
    vma.file = shm
    shm.mmap(vma)
