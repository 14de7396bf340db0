"""madvise (``mm/madvise.c``).

Ladder: unknown advice -> EINVAL; unaligned start -> EINVAL; length overflows or the range
wraps -> EINVAL; empty range -> 0; MADV_HWPOISON/SOFT_OFFLINE -> EPERM (needs
CAP_SYS_ADMIN).  Then each VMA of the range is visited in order; a hole anywhere makes the
call return ENOMEM *after* the mapped parts were handled (a range past the last VMA fails
at once).

| advice                   | effect                                                      |
|--------------------------|-------------------------------------------------------------|
| DONTNEED(_LOCKED)        | CLEAR notification, zap the ptes.  EINVAL on VM_PFNMAP      |
|                          | (and VM_LOCKED for plain DONTNEED).  A pinned page lives on |
|                          | through its pin; the CPU gets a fresh zero page next touch. |
| FREE                     | as DONTNEED but anonymous VMAs only (else EINVAL), modelled |
|                          | as a lazy free reclaimed at once: only pages that are ours  |
|                          | alone and unpinned are dropped (shared or pinned ones stay) |
| REMOVE                   | punch a hole in the file (shmem); EINVAL without a file,    |
|                          | EACCES unless shared writable, EOPNOTSUPP if the file       |
|                          | cannot punch holes                                          |
| DONTFORK/DOFORK, WIPEONFORK/KEEPONFORK, NORMAL/RANDOM/SEQUENTIAL, DONTDUMP/DODUMP,        |
| MERGEABLE/UNMERGEABLE, HUGEPAGE/NOHUGEPAGE: change VMA flags (split/merge), with Linux's   |
| refusals (DOFORK on VM_IO, WIPEONFORK on non-anonymous, DODUMP on VM_SPECIAL -> EINVAL)    |
| POPULATE_READ/WRITE      | fault the range in (EINVAL on VM_IO/PFNMAP or missing right,|
|                          | EFAULT if a fault fails)                                    |
| WILLNEED, COLD, PAGEOUT, COLLAPSE | accepted; nothing to do in the model (COLD/PAGEOUT  |
|                          | refuse VM_PFNMAP/VM_LOCKED with EINVAL)                     |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import EACCES, EFAULT, EINVAL, ENOMEM, EOPNOTSUPP, EPERM
from ..posix import (
    MADV_DOFORK,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_NORMAL,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
)
from ..units import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, page_align
from . import events
from .events import ULONG_MAX
from .fault import FaultFailed, handle_mm_fault
from .notify import NotifyEvent
from .pagetable import PTE_SPECIAL
from .vma import (
    VM_DONTCOPY,
    VM_DONTDUMP,
    VM_HUGEPAGE,
    VM_IO,
    VM_LOCKED,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_MERGEABLE,
    VM_MIXEDMAP,
    VM_NOHUGEPAGE,
    VM_PFNMAP,
    VM_RAND_READ,
    VM_READ,
    VM_SEQ_READ,
    VM_SHARED,
    VM_SPECIAL,
    VM_WIPEONFORK,
    VM_WRITE,
    Vma,
)
from .vmaops import vma_modify_flags
from .zap import zap_vma_range

if TYPE_CHECKING:
    from .mm import Mm

__all__ = ["do_madvise", "MADV_MERGEABLE", "MADV_UNMERGEABLE", "MADV_HUGEPAGE",
           "MADV_NOHUGEPAGE", "MADV_DONTDUMP", "MADV_DODUMP", "MADV_WIPEONFORK",
           "MADV_KEEPONFORK", "MADV_COLD", "MADV_PAGEOUT", "MADV_POPULATE_READ",
           "MADV_POPULATE_WRITE", "MADV_DONTNEED_LOCKED", "MADV_COLLAPSE", "MADV_HWPOISON",
           "MADV_SOFT_OFFLINE"]

MADV_MERGEABLE = 12
MADV_UNMERGEABLE = 13
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_DONTDUMP = 16
MADV_DODUMP = 17
MADV_WIPEONFORK = 18
MADV_KEEPONFORK = 19
MADV_COLD = 20
MADV_PAGEOUT = 21
MADV_POPULATE_READ = 22
MADV_POPULATE_WRITE = 23
MADV_DONTNEED_LOCKED = 24
MADV_COLLAPSE = 25
MADV_HWPOISON = 100
MADV_SOFT_OFFLINE = 101

# advice -> (flags to set, flags to clear) for the advice that only edits VMA flags
_FLAG_ADVICE: dict[int, tuple[int, int]] = {
    MADV_NORMAL: (0, VM_SEQ_READ | VM_RAND_READ),
    MADV_SEQUENTIAL: (VM_SEQ_READ, VM_RAND_READ),
    MADV_RANDOM: (VM_RAND_READ, VM_SEQ_READ),
    MADV_DONTFORK: (VM_DONTCOPY, 0),
    MADV_DOFORK: (0, VM_DONTCOPY),
    MADV_WIPEONFORK: (VM_WIPEONFORK, 0),
    MADV_KEEPONFORK: (0, VM_WIPEONFORK),
    MADV_DONTDUMP: (VM_DONTDUMP, 0),
    MADV_DODUMP: (0, VM_DONTDUMP),
    MADV_MERGEABLE: (VM_MERGEABLE, 0),
    MADV_UNMERGEABLE: (0, VM_MERGEABLE),
    MADV_HUGEPAGE: (VM_HUGEPAGE, VM_NOHUGEPAGE),
    MADV_NOHUGEPAGE: (VM_NOHUGEPAGE, VM_HUGEPAGE),
}
_READ_LOCKED = {MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE, MADV_REMOVE, MADV_WILLNEED,
                MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
                MADV_COLLAPSE}
_VALID = set(_FLAG_ADVICE) | _READ_LOCKED | {MADV_HWPOISON, MADV_SOFT_OFFLINE}


def do_madvise(mm: Mm, start: int, len_in: int, advice: int) -> None:
    if advice not in _VALID:
        raise EINVAL(f"madvise advice {advice}")
    if start & ~PAGE_MASK:
        raise EINVAL(f"madvise of unaligned {start:#x}")
    length = page_align(len_in)
    if len_in < 0 or (len_in and length > ULONG_MAX):
        raise EINVAL("madvise length overflows")
    end = start + length
    if end > ULONG_MAX:
        raise EINVAL("madvise range wraps")
    if end == start:
        return
    if advice in (MADV_HWPOISON, MADV_SOFT_OFFLINE):
        raise EPERM("memory-failure injection needs CAP_SYS_ADMIN")
    lock = mm.mmap_lock
    write = advice not in _READ_LOCKED
    (lock.down_write if write else lock.down_read)()
    try:
        _walk(mm, start, end, advice)
    finally:
        (lock.up_write if write else lock.up_read)()


def _walk(mm: Mm, start: int, end: int, advice: int) -> None:
    """``madvise_walk_vmas``: visit the mapped parts; a hole is ENOMEM at the end."""
    hole = False
    pos = start
    while True:
        vma = mm.tree.find(pos)
        if vma is None:
            raise ENOMEM(f"no mapping at or after {pos:#x}")
        if pos < vma.start:
            hole = True
            pos = vma.start
            if pos >= end:
                break
        stop = min(vma.end, end)
        _visit(mm, vma, pos, stop, advice)
        pos = stop
        if pos >= end:
            break
    if hole:
        raise ENOMEM("hole in the madvise range")


def _visit(mm: Mm, vma: Vma, start: int, end: int, advice: int) -> None:
    if advice in _FLAG_ADVICE:
        _update_flags(mm, vma, start, end, advice)
    elif advice in (MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE):
        forbidden = VM_PFNMAP | (VM_LOCKED if advice != MADV_DONTNEED_LOCKED else 0)
        if vma.flags & forbidden:
            raise EINVAL("MADV_DONTNEED/FREE of a locked or PFNMAP mapping")
        if advice == MADV_FREE:
            _free(mm, vma, start, end)
        else:
            zap_vma_range(mm, vma, start, end, NotifyEvent.CLEAR)
    elif advice == MADV_REMOVE:
        _remove(vma, start, end)
    elif advice in (MADV_COLD, MADV_PAGEOUT):
        if vma.flags & (VM_LOCKED | VM_PFNMAP):
            raise EINVAL("MADV_COLD/PAGEOUT of a locked or PFNMAP mapping")
    elif advice in (MADV_POPULATE_READ, MADV_POPULATE_WRITE):
        _populate(mm, vma, start, end, advice == MADV_POPULATE_WRITE)


def _update_flags(mm: Mm, vma: Vma, start: int, end: int, advice: int) -> None:
    if advice == MADV_DOFORK and vma.flags & VM_IO:
        raise EINVAL("MADV_DOFORK of a VM_IO mapping")
    if advice == MADV_WIPEONFORK and (vma.file is not None or vma.flags & VM_SHARED):
        raise EINVAL("MADV_WIPEONFORK of a non-anonymous mapping")
    if advice == MADV_DODUMP and vma.flags & VM_SPECIAL:
        raise EINVAL("MADV_DODUMP of a special mapping")
    set_, clear = _FLAG_ADVICE[advice]
    if advice == MADV_MERGEABLE and vma.flags & (VM_SHARED | VM_MAYSHARE | VM_SPECIAL):
        set_ = 0  # KSM silently ignores what it cannot merge
    new = (vma.flags | set_) & ~clear
    if new != vma.flags:
        vma_modify_flags(mm, vma, start, end, new)


def _free(mm: Mm, vma: Vma, start: int, end: int) -> None:
    if not vma.is_anonymous():
        raise EINVAL("MADV_FREE of a non-anonymous mapping")
    phys = mm.phys
    rng = events.range_start(mm, start, end, NotifyEvent.CLEAR)
    try:
        with mm.page_table_lock:
            drop = [(vpn, pte) for vpn, pte in mm.pt.items(start >> PAGE_SHIFT, end >> PAGE_SHIFT)
                    if pte & PTE_SPECIAL or (phys.page_count(pte >> 2) == 1
                                             and not phys.page_maybe_dma_pinned(pte >> 2))]
            for vpn, _ in drop:
                mm.pt.clear(vpn)
        phys.put_pages([pte >> 2 for _, pte in drop if not pte & PTE_SPECIAL])
    finally:
        events.range_end(mm, rng)


def _remove(vma: Vma, start: int, end: int) -> None:
    if vma.flags & VM_LOCKED:
        raise EINVAL("MADV_REMOVE of a locked mapping")
    if vma.file is None:
        raise EINVAL("MADV_REMOVE of anonymous memory")
    if vma.flags & (VM_SHARED | VM_MAYWRITE) != VM_SHARED | VM_MAYWRITE:
        raise EACCES("MADV_REMOVE of a mapping that is not shared writable")
    punch = getattr(vma.file, "punch_hole", None)
    if punch is None:
        raise EOPNOTSUPP("the file cannot punch holes")
    punch(vma.pgoff_of(start), (end - start) >> PAGE_SHIFT)


def _populate(mm: Mm, vma: Vma, start: int, end: int, write: bool) -> None:
    if vma.flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP):
        raise EINVAL("MADV_POPULATE of a device mapping")
    if not vma.flags & (VM_WRITE if write else VM_READ):
        raise EINVAL("MADV_POPULATE without the right")
    for addr in range(start, end, PAGE_SIZE):
        try:
            handle_mm_fault(mm, vma, addr, write)
        except FaultFailed as f:
            if f.sigbus:
                raise EFAULT(f"populate fault at {addr:#x}") from f
            raise ENOMEM(f"populate fault at {addr:#x}") from f
