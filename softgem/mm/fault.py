"""Page faults (``handle_mm_fault``): demand paging, the zero page, copy-on-write, unshare.

Runs with ``mmap_lock`` held (read or write); the caller has already checked that the VMA
allows the access.  Each step reads the pte, does any slow work (allocating, copying,
calling a driver's fault handler) without the page-table lock, then re-takes the lock and
installs its result only if the pte is still what it read -- otherwise it retries, as the
kernel does with ``pte_same``.

| pte now            | access            | action                                         |
|--------------------|-------------------|------------------------------------------------|
| none, anon VMA     | read              | map the zero page read-only                    |
| none, anon VMA     | write             | allocate a zeroed anon page, map it writable   |
| none, file VMA     | any               | ``vm_ops.fault`` inserts ptes (or SIGBUS/OOM)  |
| read-only, shared  | write             | make the pte writable                          |
| read-only, private | write             | reuse the page if it is exclusively ours, else |
|                    |                   | copy it (CLEAR notification of that one page)  |
| anon, not exclusive| read pin (unshare)| as a write, but the new pte stays read-only    |

"Exclusively ours" is ``PageAnonExclusive`` or a page count of one; a pinned page is always
exclusive (gup unshares before pinning), so COW never steals a page from under a DMA pin.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..errors import KernelError, SimBug
from ..units import PAGE_SHIFT, PAGE_SIZE
from . import events
from .notify import NotifyEvent
from .pagetable import PTE_SPECIAL, PTE_WRITE, make_pte
from .phys import PG_ANON, PG_EXCLUSIVE
from .vma import VM_ACCESS_FLAGS, VM_IO, VM_PFNMAP, VM_SHARED, VM_WRITE, AnonVma, is_cow_mapping
from .vmops import VmFault

if TYPE_CHECKING:
    from .mm import Mm
    from .vma import Vma

__all__ = ["FaultFailed", "handle_mm_fault", "must_unshare", "populate"]

MAX_FAULT_RETRIES = 10000


class FaultFailed(Exception):
    """The fault could not be resolved: SIGBUS (a handler refused) or out of memory."""

    def __init__(self, sigbus: bool, why: str = "") -> None:
        super().__init__(why)
        self.sigbus = sigbus


def handle_mm_fault(mm: Mm, vma: Vma, addr: int, write: bool, unshare: bool = False) -> None:
    """Make the pte of page-aligned ``addr`` satisfy the access (raises FaultFailed)."""
    vpn = addr >> PAGE_SHIFT
    for _ in range(MAX_FAULT_RETRIES):
        pte = mm.pt.lookup(vpn)
        if pte is None:
            if vma.file is None and vma.vm_ops is None:
                _do_anonymous_page(mm, vma, vpn, write)
            else:
                _do_file_fault(vma, addr, write)
            continue
        if write and not pte & PTE_WRITE:
            _do_wp_page(mm, vma, vpn, pte, unshare=False)
            continue
        if unshare and must_unshare(mm, vma, pte):
            _do_wp_page(mm, vma, vpn, pte, unshare=True)
            continue
        return
    raise SimBug(f"fault at {addr:#x} did not converge (a handler returns NOPAGE without a pte?)")


def must_unshare(mm: Mm, vma: Vma, pte: int) -> bool:
    """A read-only pin of an anonymous page shared by COW must unshare it first
    (``gup_must_unshare``), or a later COW would leave the pin on the other copy."""
    if pte & PTE_SPECIAL or not is_cow_mapping(vma.flags):
        return False
    pfn = pte >> 2
    return mm.phys.is_anon(pfn) and not mm.phys.is_anon_exclusive(pfn)


def _do_anonymous_page(mm: Mm, vma: Vma, vpn: int, write: bool) -> None:
    if not write:
        zero = make_pte(mm.phys.zero_pfn, False, special=True)
        with mm.page_table_lock:
            if mm.pt.lookup(vpn) is None:
                mm.pt.set(vpn, zero)
        return
    pfn = _alloc(mm)
    installed = False
    with mm.page_table_lock:
        if mm.pt.lookup(vpn) is None:
            if vma.anon_vma is None:
                vma.anon_vma = AnonVma()
            mm.pt.set(vpn, make_pte(pfn, bool(vma.flags & VM_WRITE)))
            installed = True
    if not installed:
        mm.phys.put_page(pfn)


def _alloc(mm: Mm) -> int:
    try:
        return mm.phys.alloc_page(PG_ANON | PG_EXCLUSIVE)
    except KernelError as e:
        raise FaultFailed(False, str(e)) from e


def _do_file_fault(vma: Vma, addr: int, write: bool) -> None:
    ops = vma.vm_ops
    if ops is None:
        raise FaultFailed(True, "file mapping without a fault handler")
    try:
        result = ops.fault(vma, addr, write)
    except KernelError as e:
        # A vm_operations fault returns a code, never an error: a handler that let one
        # through is mapped as the default of i915_error_to_vmf_fault (ENOMEM -> OOM, the
        # rest SIGBUS), so that no errno ever leaves a CPU access.
        raise FaultFailed(e.errno != errno.ENOMEM, f"fault handler raised {e}") from e
    if result is VmFault.SIGBUS:
        raise FaultFailed(True, "fault handler returned SIGBUS")
    if result is VmFault.OOM:
        raise FaultFailed(False, "fault handler returned OOM")


def _do_wp_page(mm: Mm, vma: Vma, vpn: int, pte: int, unshare: bool) -> None:
    """A write (or unshare) hit a present read-only pte."""
    phys = mm.phys
    pfn = pte >> 2
    if vma.flags & VM_SHARED:
        if not unshare:
            with mm.page_table_lock:
                if mm.pt.lookup(vpn) == pte:
                    mm.pt.set(vpn, pte | PTE_WRITE)
        return
    held = False
    if not pte & PTE_SPECIAL and phys.is_anon(pfn):
        with mm.page_table_lock:
            if mm.pt.lookup(vpn) != pte:
                return
            if phys.is_anon_exclusive(pfn) or phys.page_count(pfn) == 1:
                phys.set_anon_exclusive(pfn, True)
                if not unshare:
                    mm.pt.set(vpn, pte | PTE_WRITE)
                return
            phys.get_page(pfn)  # keep the source alive while copying it
            held = True
    try:
        _wp_page_copy(mm, vma, vpn, pte, unshare)
    finally:
        if held:
            phys.put_page(pfn)


def _wp_page_copy(mm: Mm, vma: Vma, vpn: int, pte: int, unshare: bool) -> None:
    """Break COW: a private copy replaces the shared page (CLEAR for that one page)."""
    phys = mm.phys
    old = pte >> 2
    new = _alloc(mm)
    if old != phys.zero_pfn:
        phys.data[phys.index(new)] = phys.data[phys.index(old)]
    addr = vpn << PAGE_SHIFT
    rng = events.range_start(mm, addr, addr + PAGE_SIZE, NotifyEvent.CLEAR)
    replaced = False
    try:
        with mm.page_table_lock:
            if mm.pt.lookup(vpn) == pte:
                if vma.anon_vma is None:
                    vma.anon_vma = AnonVma()
                mm.pt.set(vpn, make_pte(new, not unshare and bool(vma.flags & VM_WRITE)))
                replaced = True
    finally:
        events.range_end(mm, rng)
    if not replaced:
        phys.put_page(new)
    elif not pte & PTE_SPECIAL:
        phys.put_page(old)


def populate(mm: Mm, start: int, end: int) -> None:
    """``mm_populate``: fault in ``[start, end)`` ahead of use, ignoring failures.  Private
    writable memory is write-faulted (COW broken now), the rest read-faulted."""
    with mm.mmap_lock.read():
        for vma in mm.tree.overlapping(start, end):
            if vma.flags & (VM_IO | VM_PFNMAP) or not vma.flags & VM_ACCESS_FLAGS:
                continue
            write = vma.flags & (VM_WRITE | VM_SHARED) == VM_WRITE
            for addr in range(max(start, vma.start), min(end, vma.end), PAGE_SIZE):
                try:
                    handle_mm_fault(mm, vma, addr, write)
                except FaultFailed:
                    break
