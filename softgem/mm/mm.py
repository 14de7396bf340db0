"""``struct mm_struct``: one simulated address space and its system calls.

The methods here are thin: each system call lives in its own module (``mmap.py``,
``mremap.py``, ``mprotect.py``, ``madvise.py``, ``fork.py``, ``zap.py``) and CPU access in
``access.py`` / ``fault.py``.  This class holds the state and the locks:

| lock              | class                | protects / taken by                                  |
|-------------------|----------------------|------------------------------------------------------|
| mmap_lock         | RwSem "mm.mmap_lock" | the VMA tree and VMA fields.  Write: mmap, munmap,    |
|                   |                      | mremap, mprotect, brk, flag-changing madvise, fork,   |
|                   |                      | exit.  Read: faults, CPU/user copies, gup, probe,     |
|                   |                      | madvise(DONTNEED/FREE/...)                            |
| i_mmap_lock       | RwSem, per file      | a file's VMAs (see filemap.py)                        |
| page_table_lock   | SpinLock             | every pte change and every copy through a pte         |
| phys_lock         | SpinLock (PhysMem)   | frame counters and the free list                      |

Order: mmap_lock -> (driver locks) -> i_mmap_lock -> shmem_lock -> page_table_lock ->
phys_lock.  Notifier callbacks run with mmap_lock and/or i_mmap_lock held, never with a
spinlock.  ``notifier_subscriptions`` is installed with mmap_lock held for write.

Layout: like x86-64 with ASLR, ``mmap_base`` sits a random distance (up to 1 TiB) below
TASK_SIZE minus a 128 MiB stack gap, and the heap (``brk``) starts at a random offset (up
to 32 MiB) above a PIE-style program base.  Both come from the injected ``rng``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import trace
from ..errors import EFAULT, SimBug
from ..sync import Kref, RwSem, SpinLock
from ..units import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE, Pfn
from . import access, gup, zap
from .fork import dup_mm
from .madvise import do_madvise
from .mmap import do_brk, do_mmap, sys_munmap
from .mprotect import do_mprotect
from .mremap import do_mremap
from .notify import NotifierSubscriptions
from .pagetable import PTE_WRITE, PageTable, make_pte, pte_pfn
from .vma import VM_MIXEDMAP, VM_PFNMAP, VM_SHARED, VM_WRITE, Vma
from .vmatree import VmaTree

if TYPE_CHECKING:
    from .phys import PhysMem
    from .vmops import MappableFile

__all__ = ["Mm"]

STACK_GAP = 128 << 20
PROGRAM_BASE = 0x555555554000


class Mm:
    """An address space.  Safe to use from many threads at once."""

    def __init__(self, phys: PhysMem, *, name: str = "mm",
                 rng: random.Random | None = None) -> None:
        self.phys = phys
        self.name = name
        self.rng = rng if rng is not None else random.Random(0)
        self.mmap_lock = RwSem("mm.mmap_lock")
        self.page_table_lock = SpinLock("mm.page_table_lock")
        self.notifier_subscriptions: NotifierSubscriptions | None = None
        self.pt = PageTable()
        self.tree = VmaTree(0, TASK_SIZE)
        self.mmap_base = TASK_SIZE - STACK_GAP - (self.rng.randrange(1 << 28) << PAGE_SHIFT)
        self.start_brk = PROGRAM_BASE + (self.rng.randrange(1 << 13) << PAGE_SHIFT)
        self.cur_brk = self.start_brk
        self.exited = False
        self.users = Kref()         # mm_users: the task's own, plus mmget()s

    def __repr__(self) -> str:
        return f"Mm({self.name!r}, {len(self.tree)} vmas, {self.pt.nr_present} ptes)"

    # -- system calls ------------------------------------------------------------------------
    def mmap(self, addr: int, length: int, prot: int, flags: int,
             file: MappableFile | None = None, pgoff: int = 0) -> int:
        """Map ``length`` bytes; returns the address.  ``pgoff`` is in pages."""
        addr = do_mmap(self, addr, length, prot, flags, file, pgoff)
        if trace.enabled:
            trace.emit("mm", "mmap", mm=self.name, addr=addr, length=length, prot=prot,
                       flags=flags)
        return addr

    def munmap(self, addr: int, length: int) -> None:
        if trace.enabled:
            trace.emit("mm", "munmap", mm=self.name, addr=addr, length=length)
        sys_munmap(self, addr, length)

    def mremap(self, old_addr: int, old_len: int, new_len: int, flags: int = 0,
               new_addr: int = 0) -> int:
        if trace.enabled:
            trace.emit("mm", "mremap", mm=self.name, old_addr=old_addr, old_len=old_len,
                       new_len=new_len, flags=flags, new_addr=new_addr)
        return do_mremap(self, old_addr, old_len, new_len, flags, new_addr)

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        if trace.enabled:
            trace.emit("mm", "mprotect", mm=self.name, addr=addr, length=length, prot=prot)
        do_mprotect(self, addr, length, prot)

    def madvise(self, addr: int, length: int, advice: int) -> None:
        if trace.enabled:
            trace.emit("mm", "madvise", mm=self.name, addr=addr, length=length, advice=advice)
        do_madvise(self, addr, length, advice)

    def brk(self, new_brk: int) -> int:
        return do_brk(self, new_brk)

    def fork(self) -> Mm:
        """``dup_mmap``: a copy-on-write child address space."""
        if trace.enabled:
            trace.emit("mm", "fork", mm=self.name)
        return dup_mm(self)

    def mmget(self) -> None:
        """``mmget``: one more user keeps the address space (and its mappings) alive."""
        self.users.get()

    def mmput(self) -> None:
        """``mmput``: the last user tears the address space down (``exit_mmap``)."""
        self.users.put(self.exit_mmap)

    def exit_mmap(self) -> None:
        if trace.enabled:
            trace.emit("mm", "exit_mmap", mm=self.name)
        zap.exit_mmap(self)

    # -- memory access -----------------------------------------------------------------------
    def cpu_read(self, addr: int, n: int) -> bytes:
        """A load by the program: faults as needed; Segfault / Sigbus on a bad access."""
        return access.read_mem(self, addr, n, kernel=False)

    def cpu_write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """A store by the program (COW breaks, zero page replaced, ...)."""
        access.write_mem(self, addr, data, kernel=False)

    def copy_from_user(self, addr: int, n: int) -> bytes:
        """The kernel reading user memory: EFAULT instead of a signal."""
        return access.read_mem(self, addr, n, kernel=True)

    def copy_to_user(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        access.write_mem(self, addr, data, kernel=True)

    def copy_to_user_vec(self, pieces: Sequence[tuple[int, bytes | bytearray | memoryview]]
                         ) -> int:
        for done, (addr, data) in enumerate(pieces):
            try:
                access.write_mem(self, addr, data, kernel=True)
            except EFAULT:
                return done
        return len(pieces)

    def access_ok(self, addr: int, size: int) -> bool:
        return access.access_ok(addr, size)

    # -- gup (the UserMm entry points) -------------------------------------------------------
    def pin_user_pages(self, start: int, nr_pages: int, write: bool) -> list[Pfn]:
        return gup.pin_user_pages_sim(self, start, nr_pages, write)

    def probe_range(self, start: int, length: int) -> None:
        gup.probe_range_sim(self, start, length)

    # -- VMAs ------------------------------------------------------------------------------
    def find_vma(self, addr: int) -> Vma | None:
        """The first VMA ending above ``addr`` -- the kernel's ``find_vma``, which may return
        a VMA starting *above* ``addr``.  Use :meth:`vma_lookup` for "the VMA containing"."""
        return self.tree.find(addr)

    def vma_lookup(self, addr: int) -> Vma | None:
        """The VMA containing ``addr``, or None."""
        return self.tree.lookup(addr)

    def vmas(self) -> list[Vma]:
        """All VMAs in address order (a snapshot)."""
        return self.tree.all()

    def nr_vmas(self) -> int:
        return len(self.tree)

    def nr_ptes(self) -> int:
        """Present ptes (including zero-page and PFNMAP ones)."""
        return self.pt.nr_present

    # -- driver helpers --------------------------------------------------------------------
    def insert_pfn(self, vma: Vma, addr: int, pfn: Pfn | int, writable: bool) -> None:
        """``vmf_insert_pfn``: map a raw frame into a VM_PFNMAP/VM_MIXEDMAP VMA without taking
        a page reference.  A pte already present is left alone (made writable if asked)."""
        if not vma.flags & (VM_PFNMAP | VM_MIXEDMAP):
            raise SimBug(f"insert_pfn into {vma!r} without VM_PFNMAP/VM_MIXEDMAP")
        self._check_insert(vma, addr, pfn)
        write = writable and vma.flags & (VM_WRITE | VM_SHARED) == VM_WRITE | VM_SHARED
        vpn = addr >> PAGE_SHIFT
        with self.page_table_lock:
            cur = self.pt.lookup(vpn)
            if cur is None:
                self.pt.set(vpn, make_pte(pfn, write, special=True))
            elif write and pte_pfn(cur) == pfn:
                self.pt.set(vpn, cur | PTE_WRITE)

    def insert_page(self, vma: Vma, addr: int, pfn: Pfn | int, writable: bool) -> None:
        """``vm_insert_page`` / ``finish_fault``: map a page frame, taking a reference.
        In a private mapping the pte is read-only (a write will copy)."""
        self._check_insert(vma, addr, pfn)
        write = writable and vma.flags & (VM_WRITE | VM_SHARED) == VM_WRITE | VM_SHARED
        vpn = addr >> PAGE_SHIFT
        with self.page_table_lock:
            if self.pt.lookup(vpn) is None:
                self.phys.get_page(pfn)
                self.pt.set(vpn, make_pte(pfn, write))

    def _check_insert(self, vma: Vma, addr: int, pfn: int) -> None:
        if vma.mm is not self or not vma.contains(addr) or addr & ~PAGE_MASK:
            raise SimBug(f"insert at {addr:#x} outside {vma!r} of {self!r}")
        self.phys.index(pfn)

    def zap_vma_range(self, vma: Vma, start: int, end: int) -> None:
        """``zap_page_range_single``: drop the ptes of ``[start, end)`` in ``vma`` with a
        CLEAR notification.  Needs no mmap_lock (FileMapping calls it under i_mmap_lock)."""
        zap.zap_vma_range(self, vma, start, end)

    def resident_pages(self, start: int = 0, end: int = TASK_SIZE) -> list[tuple[int, Pfn]]:
        """(address, pfn) of every present pte in ``[start, end)`` -- for tests and tools."""
        with self.page_table_lock:
            return [(vpn << PAGE_SHIFT, Pfn(pte_pfn(pte)))
                    for vpn, pte in self.pt.items(start >> PAGE_SHIFT,
                                                  (end + PAGE_SIZE - 1) >> PAGE_SHIFT)]
