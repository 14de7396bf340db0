"""Loads and stores into an address space: the program's own (a bad one is a Segfault) and
the kernel's ``copy_from_user`` / ``copy_to_user`` (a bad one is EFAULT).

Data moves one page-sized memoryview slice of ``phys.flat`` at a time, never byte by byte.  The copy runs under
the page-table lock, so the frame behind a pte cannot be zapped and recycled in the middle
of the copy (the kernel gets the same guarantee from the TLB flush that precedes freeing).
When a pte is missing or read-only for a write, the lock is dropped, the page is faulted
in, and the copy resumes where it stopped.  As in the kernel, bytes before a failing page
have already been stored when the error is raised.

A fault handler's SIGBUS becomes :class:`Sigbus` for the program; running out of memory
in a user fault (VM_FAULT_OOM) raises :class:`OomKilled`, which the process layer turns into
the OOM killer's SIGKILL.  A kernel access (copy_from_user) that faults either way gets
EFAULT, as the exception fixup of a kernel-mode fault does.  Nothing else leaves a CPU access:
``handle_mm_fault`` raises only FaultFailed (see :mod:`.fault`).

Permissions follow x86: any of read/write/exec makes a page readable (the hardware cannot
express write-only), a store needs VM_WRITE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..errors import EFAULT, OomKilled, Segfault, Sigbus
from ..units import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE
from .fault import FaultFailed, handle_mm_fault
from .pagetable import PTE_WRITE
from .vma import VM_ACCESS_FLAGS, VM_PFNMAP, VM_WRITE

if TYPE_CHECKING:
    from .mm import Mm
    from .vma import Vma
    from .vmops import Remap

__all__ = ["read_mem", "write_mem", "access_ok"]


def access_ok(addr: int, size: int) -> bool:
    """The whole range lies in user space and does not wrap."""
    return addr >= 0 and size >= 0 and size <= TASK_SIZE and addr <= TASK_SIZE - size


def _fail(addr: int, write: bool, kernel: bool, reason: str, sigbus: bool = False) -> None:
    if kernel:
        raise EFAULT(f"{'write' if write else 'read'} at {addr:#x}: {reason}")
    if sigbus:
        raise Sigbus(addr, write, reason)
    raise Segfault(addr, write, reason)


def read_mem(mm: Mm, addr: int, n: int, kernel: bool) -> bytes:
    if n <= 0:
        return b""
    out = bytearray(n)
    _access(mm, addr, n, None, memoryview(out), kernel)
    return bytes(out)


def write_mem(mm: Mm, addr: int, data: bytes | bytearray | memoryview, kernel: bool) -> None:
    src = memoryview(data).cast("B")
    if len(src) == 0:
        return
    _access(mm, addr, len(src), src, None, kernel)


def _access(mm: Mm, addr: int, n: int, src: memoryview | None, out: memoryview | None,
            kernel: bool) -> None:
    write = src is not None
    if not access_ok(addr, n):
        _fail(max(addr, 0) if addr < TASK_SIZE else addr, write, kernel, "outside user space")
    end = addr + n
    mm.mmap_lock.down_read()
    try:
        pos = addr
        while pos < end:
            vma = mm.tree.lookup(pos)
            if vma is None:
                _fail(pos, write, kernel, "unmapped")
                return
            if not vma.flags & (VM_WRITE if write else VM_ACCESS_FLAGS):
                _fail(pos, write, kernel, "protection")
            stop = min(end, vma.end)
            _access_vma(mm, vma, pos, stop, addr, src, out, kernel)
            pos = stop
    finally:
        mm.mmap_lock.up_read()


def _access_vma(mm: Mm, vma: Vma, pos: int, stop: int, base: int, src: memoryview | None,
                out: memoryview | None, kernel: bool) -> None:
    """Copy ``[pos, stop)`` (inside one VMA), faulting pages in as needed."""
    phys = mm.phys
    flat = phys.flat
    frame0 = phys.base_pfn
    lookup = mm.pt.lookup
    ptl = mm.page_table_lock
    write = src is not None
    remap_of = getattr(vma.vm_ops, "remap", None) if vma.flags & VM_PFNMAP else None
    while pos < stop:
        ptl.lock()
        try:
            # Asked under the lock, after every fault: the fault that inserted a PTE set up
            # the remap it is valid for (see vmops.Remap).
            remap: Remap | None = remap_of(vma) if remap_of is not None else None
            while pos < stop:
                pte = lookup(pos >> PAGE_SHIFT)
                if pte is None or (write and not pte & PTE_WRITE):
                    break
                off = pos & (PAGE_SIZE - 1)
                k = min(PAGE_SIZE - off, stop - pos)
                i = pos - base
                if remap is not None:
                    _copy_remapped(mm, remap(vma, pos, k), src, out, i)
                    pos += k
                    continue
                at = (((pte >> 2) - frame0) << PAGE_SHIFT) | off
                if src is not None:
                    flat[at:at + k] = src[i:i + k]
                    phys.set_dirty(pte >> 2)
                else:
                    assert out is not None
                    out[i:i + k] = flat[at:at + k]
                pos += k
        finally:
            ptl.unlock()
        if pos < stop:
            try:
                handle_mm_fault(mm, vma, pos & PAGE_MASK, write)
            except FaultFailed as f:
                if not f.sigbus and not kernel:
                    raise OomKilled(pos, write, str(f)) from f
                _fail(pos, write, kernel, str(f) or "fault failed", sigbus=f.sigbus)


def _copy_remapped(mm: Mm, where: npt.NDArray[np.int64], src: memoryview | None,
                   out: memoryview | None, i: int) -> None:
    """Move ``len(where)`` bytes between the caller's buffer at ``i`` and the frame bytes
    ``where`` names (-1: nothing behind it; reads zero, stores vanish)."""
    phys = mm.phys
    flat = phys.data.reshape(-1)
    k = len(where)
    backed = where >= 0
    if src is not None:
        data = np.frombuffer(src, dtype=np.uint8, count=k, offset=i)
        flat[where[backed]] = data[backed]
        for row in np.unique(where[backed] >> PAGE_SHIFT).tolist():
            phys.set_dirty(phys.base_pfn + row)
    else:
        assert out is not None
        dest = np.frombuffer(out, dtype=np.uint8, count=k, offset=i)
        dest[:] = 0
        dest[backed] = flat[where[backed]]
