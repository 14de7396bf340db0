"""mprotect: change the access rights of a range (``mm/mprotect.c``).

Ladder: PROT_GROWSDOWN|PROT_GROWSUP together, unaligned start -> EINVAL; length 0 -> 0;
range wraps -> ENOMEM; unknown prot bits -> EINVAL; no VMA at start -> ENOMEM; then per VMA,
in address order: a hole -> ENOMEM; a right the VMA may never have (VM_MAY*) -> EACCES; the
file's ``vm_ops.mprotect`` hook may refuse (EACCES).  As in Linux, VMAs before the failing
one keep their new rights.

Notification (PROTECTION_VMA), decided as Linux >= 6.6 does in ``change_pud_range``: only
for VMAs whose flags actually change, and only if a page table exists below some 1 GiB
(PUD) slot of the range -- from the first such slot (clamped to the range start) to the
end of the range within its 512 GiB (P4D) slot.  So mprotect of never-touched memory is
silent, while memory whose page tables were populated is announced even if its ptes were
since zapped (MADV_DONTNEED keeps page tables).  We track tables at 2 MiB granularity and
free them on munmap when no VMA covers their span; a PUD counts as populated while any of
its tables exists -- a slight under-approximation of the kernel, which also keeps empty PMD
tables until a whole 1 GiB gap opens.

Removing write access write-protects the present ptes.  Adding it leaves them read-only:
the next store takes a write fault that reuses an exclusive page without copying or
notifying, which is what the kernel's eager upgrade would have produced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import EACCES, EINVAL, ENOMEM
from ..posix import PROT_EXEC, PROT_READ, PROT_WRITE
from ..units import PAGE_MASK, PAGE_SHIFT, page_align
from . import events
from .events import ULONG_MAX
from .mmap import calc_vm_prot_bits
from .notify import NotifyEvent
from .pagetable import P4D_SHIFT, PTE_WRITE
from .vma import (
    VM_ACCESS_FLAGS,
    VM_ACCOUNT,
    VM_GROWSDOWN,
    VM_NORESERVE,
    VM_SHARED,
    VM_WRITE,
    Vma,
)
from .vmaops import vma_modify_flags

if TYPE_CHECKING:
    from .mm import Mm

__all__ = ["do_mprotect", "PROT_SEM", "PROT_GROWSDOWN", "PROT_GROWSUP"]

PROT_SEM = 0x8
PROT_GROWSDOWN = 0x01000000
PROT_GROWSUP = 0x02000000


def do_mprotect(mm: Mm, start: int, length: int, prot: int) -> None:
    grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP)
    prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP)
    if grows == PROT_GROWSDOWN | PROT_GROWSUP:
        raise EINVAL("PROT_GROWSDOWN and PROT_GROWSUP")
    if start & ~PAGE_MASK:
        raise EINVAL(f"mprotect of unaligned {start:#x}")
    if length == 0:
        return
    end = start + page_align(length)
    if end > ULONG_MAX:
        raise ENOMEM("mprotect range wraps")
    if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM):
        raise EINVAL(f"prot {prot:#x}")
    with mm.mmap_lock.write():
        vma = mm.tree.find(start)
        if vma is None or vma.start >= end:
            raise ENOMEM("no mapping in range")
        if grows & PROT_GROWSDOWN:
            start = vma.start
            if not vma.flags & VM_GROWSDOWN:
                raise EINVAL("PROT_GROWSDOWN on a mapping that does not grow down")
        elif vma.start > start:
            raise ENOMEM("hole at the start of the range")
        elif grows & PROT_GROWSUP:
            raise EINVAL("no VM_GROWSUP mappings on x86")
        _apply(mm, start, end, prot)


def _apply(mm: Mm, start: int, end: int, prot: int) -> None:
    pos = start
    while pos < end:
        vma = mm.tree.find(pos)
        if vma is None or vma.start >= end:
            break
        if vma.start > pos:
            raise ENOMEM(f"hole at {pos:#x}")
        newflags = calc_vm_prot_bits(prot) | (vma.flags & ~VM_ACCESS_FLAGS)
        if (newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS:
            raise EACCES(f"mapping at {vma.start:#x} may not get prot {prot:#x}")
        stop = min(vma.end, end)
        hook = getattr(vma.vm_ops, "mprotect", None)
        if hook is not None:
            hook(vma, prot)
        _fixup(mm, vma, pos, stop, newflags)
        pos = stop
    if pos < end:
        raise ENOMEM(f"hole at {pos:#x}")


def _fixup(mm: Mm, vma: Vma, start: int, end: int, newflags: int) -> None:
    """``mprotect_fixup``: nothing at all happens when the flags do not change."""
    oldflags = vma.flags
    if newflags == oldflags:
        return
    if newflags & VM_WRITE:
        if not oldflags & (VM_ACCOUNT | VM_WRITE | VM_SHARED | VM_NORESERVE):
            newflags |= VM_ACCOUNT
    elif oldflags & VM_ACCOUNT and vma.is_anonymous() and vma.anon_vma is None:
        newflags &= ~VM_ACCOUNT
    vma_modify_flags(mm, vma, start, end, newflags)
    _change_protection(mm, start, end, newflags)


def _change_protection(mm: Mm, start: int, end: int, newflags: int) -> None:
    chunk = start
    while chunk < end:
        chunk_end = min(end, ((chunk >> P4D_SHIFT) + 1) << P4D_SHIFT)
        first = mm.pt.first_populated(chunk, chunk_end)
        if first is not None:
            rng = events.range_start(mm, first, chunk_end, NotifyEvent.PROTECTION_VMA)
            try:
                if not newflags & VM_WRITE:
                    _write_protect(mm, first, chunk_end)
            finally:
                events.range_end(mm, rng)
        chunk = chunk_end


def _write_protect(mm: Mm, start: int, end: int) -> None:
    with mm.page_table_lock:
        pt = mm.pt
        hits = [(v, p) for v, p in pt.items(start >> PAGE_SHIFT, end >> PAGE_SHIFT)
                if p & PTE_WRITE]
        for vpn, pte in hits:
            pt.set(vpn, pte & ~PTE_WRITE)
