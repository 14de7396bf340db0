"""get_user_pages with FOLL_PIN: how a driver takes long-lived hold of user pages.

``pin_user_pages`` walks the range under ``mmap_lock`` (read).  Per page it first checks the
VMA (``check_vma_flags``), then looks at the pte; if the pte cannot be pinned as it is
(missing, read-only for a write pin, or a COW-shared anonymous page for a read pin) it
faults -- breaking COW or unsharing -- and looks again.  The page is pinned under the
page-table lock, so it cannot be zapped between the look and the pin.

Refusals, all EFAULT: a hole; a VM_IO or VM_PFNMAP VMA; a write pin of a VMA without
VM_WRITE; a read pin of one without VM_READ; a special pte in a VM_MIXEDMAP VMA; a fault
handler's SIGBUS.  Running out of memory is ENOMEM.  The first refusal stops the walk: the
pages pinned so far are returned (a partial pin), or the error is raised if there are none.

A read pin of never-touched anonymous memory pins the shared zero page, as Linux does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import EFAULT, ENOMEM, KernelError, SimBug
from ..units import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, Pfn
from .fault import FaultFailed, handle_mm_fault, must_unshare
from .pagetable import PTE_SPECIAL, PTE_WRITE, pte_pfn
from .vma import VM_IO, VM_MIXEDMAP, VM_PFNMAP, VM_READ, VM_WRITE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .mm import Mm
    from .phys import PhysMem
    from .usermm import UserMm
    from .vma import Vma

__all__ = ["pin_user_pages", "unpin_user_pages", "probe_range", "pin_user_pages_sim",
           "probe_range_sim", "get_user_pages_fast_only"]

MAX_FOLLOW_RETRIES = 10000


def pin_user_pages(mm: UserMm, start: int, nr_pages: int, write: bool) -> list[Pfn]:
    """Pin ``nr_pages`` pages from page-aligned ``start`` of any :class:`UserMm` (the
    simulated one ends in :func:`pin_user_pages_sim`)."""
    return mm.pin_user_pages(start, nr_pages, write)


def probe_range(mm: UserMm, start: int, length: int) -> None:
    """``I915_USERPTR_PROBE``'s check on any :class:`UserMm`; see :func:`probe_range_sim`."""
    mm.probe_range(start, length)


def pin_user_pages_sim(mm: Mm, start: int, nr_pages: int, write: bool) -> list[Pfn]:
    """The simulated address space's pin; see the module doc."""
    if start & ~PAGE_MASK:
        raise SimBug(f"pin_user_pages at unaligned {start:#x}")
    pinned: list[Pfn] = []
    if nr_pages <= 0:
        return pinned
    mm.mmap_lock.down_read()
    try:
        vma: Vma | None = None
        for i in range(nr_pages):
            addr = start + i * PAGE_SIZE
            if vma is None or addr >= vma.end:
                vma = _vma_for(mm, addr, write)
            pinned.append(_follow_and_pin(mm, vma, addr, write))
    except KernelError:
        if not pinned:
            raise
    finally:
        mm.mmap_lock.up_read()
    return pinned


def _vma_for(mm: Mm, addr: int, write: bool) -> Vma:
    vma = mm.tree.lookup(addr)
    if vma is None:
        raise EFAULT(f"no mapping at {addr:#x}")
    if vma.flags & (VM_IO | VM_PFNMAP):
        raise EFAULT(f"VM_IO/VM_PFNMAP mapping at {addr:#x}")
    if write and not vma.flags & VM_WRITE:
        raise EFAULT(f"write pin of a mapping without VM_WRITE at {addr:#x}")
    if not write and not vma.flags & VM_READ:
        raise EFAULT(f"read pin of a mapping without VM_READ at {addr:#x}")
    return vma


def _follow_and_pin(mm: Mm, vma: Vma, addr: int, write: bool) -> Pfn:
    vpn = addr >> PAGE_SHIFT
    phys = mm.phys
    for _ in range(MAX_FOLLOW_RETRIES):
        with mm.page_table_lock:
            pte = mm.pt.lookup(vpn)
            if pte is not None and (not write or pte & PTE_WRITE) and (
                    write or not must_unshare(mm, vma, pte)):
                pfn = pte >> 2
                if pte & PTE_SPECIAL and pfn != phys.zero_pfn:
                    raise EFAULT(f"raw pfn mapped at {addr:#x}")
                phys.pin_page(pfn)
                return Pfn(pfn)
        try:
            handle_mm_fault(mm, vma, addr, write, unshare=not write)
        except FaultFailed as f:
            if f.sigbus:
                raise EFAULT(f"fault at {addr:#x}: {f}") from f
            raise ENOMEM(f"fault at {addr:#x}: {f}") from f
    raise SimBug(f"pin at {addr:#x} did not converge")


def get_user_pages_fast_only(mm: Any, start: int, nr_pages: int, write: bool) -> list[Pfn]:
    """``__get_user_pages_fast`` (2014): pin what the page tables already map, taking no
    mmap_lock and faulting nothing; stops at the first page it cannot take (no pte, a
    special pte, a read-only pte for a write).  An address space whose page tables cannot
    be walked here (host mode's) gives none: the caller falls back to the slow path."""
    pt = getattr(mm, "pt", None)
    if pt is None:
        return []
    phys = mm.phys
    out: list[Pfn] = []
    with mm.page_table_lock:
        for i in range(nr_pages):
            pte = pt.lookup((start >> PAGE_SHIFT) + i)
            if pte is None or pte & PTE_SPECIAL or (write and not pte & PTE_WRITE):
                break
            pfn = Pfn(pte_pfn(pte))
            phys.pin_page(pfn)
            out.append(pfn)
    return out


def unpin_user_pages(phys: PhysMem, pfns: Iterable[int], dirty: bool) -> None:
    """Drop pins taken by :func:`pin_user_pages`, marking the pages dirty first if asked
    (``unpin_user_pages_dirty_lock``)."""
    for pfn in pfns:
        if dirty and pfn != phys.zero_pfn:
            phys.set_dirty(pfn)
        phys.unpin_page(pfn)


def probe_range_sim(mm: Mm, start: int, length: int) -> None:
    """EFAULT unless ``[start, start+length)`` is wholly covered by VMAs none of which is
    VM_PFNMAP or VM_MIXEDMAP (what ``I915_USERPTR_PROBE`` asks; rights are not checked)."""
    end = start + length
    addr = start
    with mm.mmap_lock.read():
        for vma in mm.tree.overlapping(start, end):
            if vma.start > addr:
                break
            if vma.flags & (VM_PFNMAP | VM_MIXEDMAP):
                raise EFAULT(f"device mapping at {vma.start:#x}")
            addr = vma.end
    if addr < end:
        raise EFAULT(f"hole at {addr:#x}")
