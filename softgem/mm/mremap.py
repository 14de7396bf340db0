"""mremap: grow in place, shrink, or move a mapping (``mm/mremap.c``).

Ladder before the lock: unknown flags, unaligned ``addr``, ``new_len`` 0 -> EINVAL; with
MREMAP_FIXED/DONTUNMAP: unaligned ``new_addr``, no MAYMOVE, DONTUNMAP with a size change ->
EINVAL.  Under the lock: no VMA at ``addr`` -> EFAULT; then per path (``remap_is_valid``):
``old_len`` 0 of a private mapping -> EINVAL; DONTUNMAP of a PFNMAP/DONTEXPAND VMA ->
EINVAL; range crossing the VMA end -> EFAULT; growing a PFNMAP/DONTEXPAND VMA -> EFAULT;
cannot grow in place and no MAYMOVE -> ENOMEM.

Notifications: a shrink unmaps the tail (UNMAP).  A move announces UNMAP over the old range
while the ptes move (``move_page_tables``), then unmaps the old VMA (a second UNMAP) unless
MREMAP_DONTUNMAP keeps it.  Growing in place raises nothing.  The moved pages keep their
identity: a pin on them stays valid, while an interval watching the old address now
watches a hole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import EFAULT, EINVAL, ENOMEM
from ..posix import MAP_FIXED, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE
from ..units import PAGE_MASK, PAGE_SHIFT, TASK_SIZE, page_align
from . import events
from .events import ULONG_MAX
from .mmap import get_unmapped_area
from .notify import NotifyEvent
from .vma import VM_ACCOUNT, VM_DONTEXPAND, VM_LOCKED, VM_MAYSHARE, VM_PFNMAP, VM_SHARED, Vma
from .vmaops import MAX_MAP_COUNT, i_mmap_write, merge_around, new_anon_or_merge, new_file_vma
from .zap import do_munmap

if TYPE_CHECKING:
    from .mm import Mm

__all__ = ["do_mremap"]


def do_mremap(mm: Mm, addr: int, old_len: int, new_len: int, flags: int,
              new_addr: int) -> int:
    if flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP):
        raise EINVAL(f"mremap flags {flags:#x}")
    if addr & ~PAGE_MASK:
        raise EINVAL("mremap of an unaligned address")
    if new_len == 0 or page_align(new_len) > ULONG_MAX:
        raise EINVAL("mremap to length 0")
    implies_new = bool(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))
    if implies_new:
        if new_addr & ~PAGE_MASK:
            raise EINVAL("mremap to an unaligned address")
        if not flags & MREMAP_MAYMOVE:
            raise EINVAL("MREMAP_FIXED/DONTUNMAP without MREMAP_MAYMOVE")
        if flags & MREMAP_DONTUNMAP and old_len != new_len:
            raise EINVAL("MREMAP_DONTUNMAP with a size change")
        if len(mm.tree) + 2 >= MAX_MAP_COUNT - 3:
            raise ENOMEM("vm.max_map_count reached")
    old_len, new_len = page_align(old_len) & ULONG_MAX, page_align(new_len)
    with mm.mmap_lock.write():
        vma = mm.tree.lookup(addr)
        if vma is None:
            raise EFAULT(f"no mapping at {addr:#x}")
        if implies_new:
            return _mremap_to(mm, vma, addr, old_len, new_len, flags, new_addr)
        if old_len == new_len:
            return addr
        if old_len > new_len:
            do_munmap(mm, addr + new_len, addr + old_len)
            return addr
        return _expand(mm, vma, addr, old_len, new_len, flags)


def _remap_is_valid(vma: Vma, addr: int, old_len: int, new_len: int, flags: int) -> None:
    if old_len == 0 and not vma.flags & (VM_SHARED | VM_MAYSHARE):
        raise EINVAL("mremap cannot duplicate a private mapping")
    if flags & MREMAP_DONTUNMAP and vma.flags & (VM_DONTEXPAND | VM_PFNMAP):
        raise EINVAL("MREMAP_DONTUNMAP of a PFNMAP/DONTEXPAND mapping")
    if old_len > vma.end - addr:
        raise EFAULT("mremap range crosses the end of the mapping")
    if new_len == old_len:
        return
    if vma.pgoff_of(addr) + (new_len >> PAGE_SHIFT) > ULONG_MAX:
        raise EINVAL("pgoff overflows")
    if vma.flags & (VM_DONTEXPAND | VM_PFNMAP):
        raise EFAULT("cannot grow a PFNMAP/DONTEXPAND mapping")


def _expand(mm: Mm, vma: Vma, addr: int, old_len: int, new_len: int, flags: int) -> int:
    _remap_is_valid(vma, addr, old_len, new_len, flags)
    delta = new_len - old_len
    if vma.end - addr == old_len and vma.end + delta <= TASK_SIZE and \
            mm.tree.is_free(vma.end, vma.end + delta):
        mm.tree.occupy(vma.end, vma.end + delta)
        with i_mmap_write(vma):
            vma.end += delta
        merge_around(mm, vma)
        return addr
    if not flags & MREMAP_MAYMOVE:
        raise ENOMEM("cannot grow in place")
    target = get_unmapped_area(mm, 0, new_len, MAP_SHARED if vma.flags & VM_MAYSHARE else 0)
    return _move_vma(mm, vma, addr, old_len, target, new_len, flags)


def _mremap_to(mm: Mm, vma: Vma, addr: int, old_len: int, new_len: int, flags: int,
               new_addr: int) -> int:
    if new_len > TASK_SIZE or new_addr > TASK_SIZE - new_len:
        raise EINVAL("mremap target beyond TASK_SIZE")
    if addr + old_len > new_addr and new_addr + new_len > addr:
        raise EINVAL("mremap source and target overlap")
    if flags & MREMAP_FIXED:
        do_munmap(mm, new_addr, new_addr + new_len)
        vma = _relookup(mm, addr)
    if old_len > new_len:
        do_munmap(mm, addr + new_len, addr + old_len)
        vma = _relookup(mm, addr)
        old_len = new_len
    _remap_is_valid(vma, addr, old_len, new_len, flags)
    map_flags = (MAP_FIXED if flags & MREMAP_FIXED else 0) | (
        MAP_SHARED if vma.flags & VM_MAYSHARE else 0)
    target = get_unmapped_area(mm, new_addr, new_len, map_flags)
    return _move_vma(mm, vma, addr, old_len, target, new_len, flags)


def _relookup(mm: Mm, addr: int) -> Vma:
    vma = mm.tree.lookup(addr)
    if vma is None:
        raise EFAULT(f"no mapping at {addr:#x}")
    return vma


def _move_vma(mm: Mm, vma: Vma, addr: int, old_len: int, new_addr: int, new_len: int,
              flags: int) -> int:
    if len(mm.tree) >= MAX_MAP_COUNT - 3:
        raise ENOMEM("vm.max_map_count reached")
    pgoff = vma.pgoff_of(addr)
    if vma.is_anonymous():
        if vma.anon_vma is None:
            pgoff = new_addr >> PAGE_SHIFT
        new_anon_or_merge(mm, new_addr, new_addr + new_len, vma.flags, pgoff, vma.anon_vma)
    else:
        new_file_vma(mm, new_addr, new_addr + new_len, vma.flags, pgoff, vma.file,
                     vma.vm_ops, vma.private)
    _move_page_tables(mm, addr, new_addr, old_len)
    if flags & MREMAP_DONTUNMAP:
        vma.flags &= ~(VM_LOCKED | VM_ACCOUNT)
        if vma.start == addr and vma.end == addr + old_len:
            vma.anon_vma = None
    elif old_len:
        do_munmap(mm, addr, addr + old_len)
    return new_addr


def _move_page_tables(mm: Mm, old_addr: int, new_addr: int, length: int) -> None:
    if length == 0:
        return
    rng = events.range_start(mm, old_addr, old_addr + length, NotifyEvent.UNMAP)
    try:
        delta = (new_addr - old_addr) >> PAGE_SHIFT
        with mm.page_table_lock:
            moved = mm.pt.clear_range(old_addr >> PAGE_SHIFT, (old_addr + length) >> PAGE_SHIFT)
            for vpn, pte in moved:
                mm.pt.set(vpn + delta, pte)
    finally:
        events.range_end(mm, rng)
