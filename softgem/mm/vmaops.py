"""Cutting and gluing VMAs: split, merge, insert, remove (``mm/vma.c``).

All functions run with the mm's ``mmap_lock`` held for write.  A file VMA's boundaries and
its membership in the file's i_mmap change together under ``i_mmap_lock`` (write), so
``unmap_mapping_range`` (which holds it for read, without mmap_lock) always sees a
consistent set of VMAs covering the file.

Merging follows ``is_mergeable_vma``: adjacent, equal flags (soft-dirty aside), same file and
ops, contiguous ``pgoff``, compatible anon_vmas, no ``close`` op and no VM_SPECIAL flag -- so
device (PFNMAP) mappings and mappings of different files never merge.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from ..errors import ENOMEM
from ..units import PAGE_SHIFT
from .vma import VM_SOFTDIRTY, VM_SPECIAL, AnonVma, Vma

if TYPE_CHECKING:
    from .mm import Mm
    from .vmops import MappableFile, VmFaultOps

__all__ = [
    "MAX_MAP_COUNT", "split_vma", "can_merge", "merge_around", "insert_vma", "close_vma",
    "new_anon_or_merge", "new_file_vma", "vma_modify_flags", "i_mmap_write", "copy_vma_fields",
]

MAX_MAP_COUNT = 65530   # sysctl vm.max_map_count default


def i_mmap_write(vma: Vma) -> Any:
    """The context that guards a file VMA's boundaries (a no-op for anonymous VMAs)."""
    if vma.file is None:
        return nullcontext()
    return vma.file.mapping.i_mmap_lock.write()


def copy_vma_fields(src: Vma, mm: Mm, start: int, end: int, pgoff: int) -> Vma:
    new = Vma(mm, start, end, src.flags, pgoff, src.file)
    new.vm_ops = src.vm_ops
    new.private = src.private
    new.anon_vma = src.anon_vma
    return new


def _open(vma: Vma) -> None:
    op = getattr(vma.vm_ops, "open", None)
    if op is not None:
        op(vma)


def split_vma(mm: Mm, vma: Vma, addr: int) -> Vma:
    """Cut ``vma`` at ``addr``; ``vma`` keeps ``[start, addr)`` and the returned new VMA
    covers ``[addr, end)``.  The new VMA is announced to the file with ``open``."""
    if len(mm.tree) >= MAX_MAP_COUNT:
        raise ENOMEM("vm.max_map_count reached")
    new = copy_vma_fields(vma, mm, addr, vma.end, vma.pgoff_of(addr))
    with i_mmap_write(vma):
        vma.end = addr
        if vma.file is not None:
            vma.file.mapping.link_locked(new)
    mm.tree.link(new)
    _open(new)
    return new


def can_merge(a: Vma, b: Vma) -> bool:
    """Whether ``a`` (just below) and ``b`` can become one VMA."""
    if a.end != b.start or (a.flags ^ b.flags) & ~VM_SOFTDIRTY or a.flags & VM_SPECIAL:
        return False
    if a.file is not b.file or a.vm_ops is not b.vm_ops or a.private is not b.private:
        return False
    if a.vm_ops is not None and getattr(a.vm_ops, "close", None) is not None:
        return False
    if a.pgoff + ((a.end - a.start) >> PAGE_SHIFT) != b.pgoff:
        return False
    return a.anon_vma is None or b.anon_vma is None or a.anon_vma is b.anon_vma


def _absorb(mm: Mm, lower: Vma, upper: Vma) -> None:
    """``lower`` grows over ``upper``, which disappears (no ``close``: mergeable VMAs have
    none)."""
    mm.tree.unlink(upper)
    with i_mmap_write(lower):
        lower.end = upper.end
        if lower.file is not None:
            lower.file.mapping.unlink_locked(upper)
    if lower.anon_vma is None:
        lower.anon_vma = upper.anon_vma


def merge_around(mm: Mm, vma: Vma) -> Vma:
    """Merge ``vma`` with its neighbours where possible; returns the surviving VMA."""
    prev = mm.tree.prev(vma)
    if prev is not None and can_merge(prev, vma):
        _absorb(mm, prev, vma)
        vma = prev
    nxt = mm.tree.next(vma)
    if nxt is not None and can_merge(vma, nxt):
        _absorb(mm, vma, nxt)
    return vma


def insert_vma(mm: Mm, vma: Vma) -> None:
    """Make a new VMA over free address space visible (``vma_link``)."""
    mm.tree.occupy(vma.start, vma.end)
    mm.tree.link(vma)
    if vma.file is not None:
        vma.file.mapping.link(vma)


def close_vma(vma: Vma) -> None:
    """The VMA is gone from its mm: tell the file (``remove_vma``)."""
    op = getattr(vma.vm_ops, "close", None)
    if op is not None:
        op(vma)
    if vma.file is not None:
        vma.file.mapping.unlink(vma)


def new_anon_or_merge(mm: Mm, start: int, end: int, flags: int, pgoff: int,
                      anon_vma: AnonVma | None = None) -> Vma:
    """Cover free ``[start, end)`` with private anonymous memory, expanding a neighbour
    when they are compatible (``vma_merge_new_range``) instead of adding a VMA."""
    cand = Vma(mm, start, end, flags, pgoff)
    cand.anon_vma = anon_vma
    prev, nxt = mm.tree.neighbours(start, end)
    if prev is not None and can_merge(prev, cand):
        mm.tree.occupy(start, end)
        prev.end = end
        if prev.anon_vma is None:
            prev.anon_vma = anon_vma
        return merge_around(mm, prev)
    if nxt is not None and can_merge(cand, nxt):
        mm.tree.occupy(start, end)
        mm.tree.restart(nxt, start)
        nxt.pgoff = pgoff
        if nxt.anon_vma is None:
            nxt.anon_vma = anon_vma
        return nxt
    insert_vma(mm, cand)
    return cand


def new_file_vma(mm: Mm, start: int, end: int, flags: int, pgoff: int,
                 file: MappableFile | None, vm_ops: VmFaultOps | None, private: Any) -> Vma:
    """A new VMA sharing a file with an existing one (``copy_vma``), announced with open."""
    vma = Vma(mm, start, end, flags, pgoff, file)
    vma.vm_ops = vm_ops
    vma.private = private
    insert_vma(mm, vma)
    _open(vma)
    return vma


def vma_modify_flags(mm: Mm, vma: Vma, start: int, end: int, flags: int) -> Vma:
    """Give ``[start, end)`` (inside ``vma``) new flags, splitting and re-merging."""
    if start > vma.start:
        vma = split_vma(mm, vma, start)
    if end < vma.end:
        split_vma(mm, vma, end)
    vma.flags = flags
    return merge_around(mm, vma)
