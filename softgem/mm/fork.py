"""fork's half of the address space: ``dup_mmap`` and ``copy_page_range``.

Per parent VMA:

| VMA                          | child gets                         | ptes copied now?               |
|------------------------------|------------------------------------|--------------------------------|
| VM_DONTCOPY (MADV_DONTFORK)  | nothing                            | --                             |
| VM_WIPEONFORK                | the VMA, empty                     | no                             |
| shared (file or shmem)       | the VMA (``vm_ops.open``)          | no: the child faults the same  |
|                              |                                    | pages in from the file         |
| private with anon pages, or  | the VMA                            | yes (``vma_needs_copy``)       |
| VM_PFNMAP / VM_MIXEDMAP      |                                    |                                |
| private, never written       | the VMA                            | no: faults refill it           |

When ptes are copied for a COW mapping, the parent is told first with a PROTECTION_PAGE
notification over the whole VMA (``copy_page_range``), because its writable ptes become
read-only.  Each anonymous page becomes shared (not exclusive) and read-only on both sides
-- except a page that may be DMA-pinned: the child gets its own copy at once and the parent
keeps its page, exclusive and writable, so the pin keeps seeing the parent's writes
(Linux since 5.9, "fork: copy pinned pages").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import KernelError
from ..units import PAGE_SHIFT
from . import events
from .notify import NotifyEvent
from .pagetable import PTE_SPECIAL, PTE_WRITE, make_pte
from .phys import PG_ANON, PG_EXCLUSIVE
from .vma import (
    VM_DONTCOPY,
    VM_LOCKED,
    VM_MIXEDMAP,
    VM_PFNMAP,
    VM_WIPEONFORK,
    VM_WRITE,
    AnonVma,
    Vma,
    is_cow_mapping,
)
from .vmaops import copy_vma_fields, insert_vma

if TYPE_CHECKING:
    from .mm import Mm

__all__ = ["dup_mm"]


def dup_mm(parent: Mm) -> Mm:
    child = type(parent)(parent.phys, name=f"{parent.name}/child", rng=parent.rng)
    child.mmap_base = parent.mmap_base
    with parent.mmap_lock.write():
        child.start_brk = parent.start_brk
        child.cur_brk = parent.cur_brk
        child.mmap_lock.down_write(subclass=1)
        try:
            for vma in parent.tree.all():
                if not vma.flags & VM_DONTCOPY:
                    _dup_vma(parent, child, vma)
        except KernelError:
            child.mmap_lock.up_write()
            child.exit_mmap()
            raise
        child.mmap_lock.up_write()
    return child


def _dup_vma(parent: Mm, child: Mm, vma: Vma) -> None:
    new = copy_vma_fields(vma, child, vma.start, vma.end, vma.pgoff)
    new.flags &= ~VM_LOCKED
    wipe = bool(vma.flags & VM_WIPEONFORK)
    new.anon_vma = AnonVma() if vma.anon_vma is not None and not wipe else None
    insert_vma(child, new)
    op = getattr(new.vm_ops, "open", None)
    if op is not None:
        op(new)
    if not wipe:
        _copy_page_range(parent, child, vma, new)


def _copy_page_range(parent: Mm, child: Mm, src: Vma, dst: Vma) -> None:
    if not (src.flags & (VM_PFNMAP | VM_MIXEDMAP) or src.anon_vma is not None):
        return
    cow = is_cow_mapping(src.flags)
    rng = (events.range_start(parent, src.start, src.end, NotifyEvent.PROTECTION_PAGE)
           if cow else None)
    try:
        with parent.page_table_lock:
            child.page_table_lock.lock(subclass=1)
            try:
                for vpn, pte in list(parent.pt.items(src.start >> PAGE_SHIFT,
                                                     src.end >> PAGE_SHIFT)):
                    _copy_pte(parent, child, dst, vpn, pte, cow)
            finally:
                child.page_table_lock.unlock()
    finally:
        events.range_end(parent, rng)


def _copy_pte(parent: Mm, child: Mm, dst: Vma, vpn: int, pte: int, cow: bool) -> None:
    """Both page-table locks held."""
    phys = parent.phys
    pfn = pte >> 2
    if not pte & PTE_SPECIAL:
        if phys.is_anon(pfn) and phys.page_maybe_dma_pinned(pfn):
            new = phys.alloc_page(PG_ANON | PG_EXCLUSIVE)
            phys.data[phys.index(new)] = phys.data[phys.index(pfn)]
            child.pt.set(vpn, make_pte(new, bool(dst.flags & VM_WRITE)))
            return
        phys.get_page(pfn)
        if phys.is_anon(pfn):
            phys.set_anon_exclusive(pfn, False)
    if cow and pte & PTE_WRITE:
        pte &= ~PTE_WRITE
        parent.pt.set(vpn, pte)
    child.pt.set(vpn, pte)
