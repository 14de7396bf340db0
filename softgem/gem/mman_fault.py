"""Fault handlers of GEM mmaps (``vm_fault_cpu`` / ``vm_fault_gtt`` in ``i915_gem_mman.c``).

Both run from the mm fault path with the faulting mm's ``mmap_lock`` held for read, take the
object lock, pin the object's pages for the duration of the fault, insert PTEs with
``mm.insert_pfn`` (the VMAs are VM_PFNMAP: no page references), and unpin.  The PTEs stay
valid after the unpin because whoever puts the pages zaps them first
(:func:`~softgem.gem.mman.release_mmap_offset`).

* CPU (WB/WC/UC): the first fault maps the whole VMA at once.  A VMA that does not start at
  the node's first page (after a split) maps from the matching object page
  (``obj_offset = vma.pgoff - node.start``, upstream since the 2024 partial-mmap fix).
* GTT: the view covering the faulting page is bound in the aperture (see
  :mod:`softgem.gem.aperture`), fenced if tiled, and only that view's pages are mapped.
  Inserting and marking the view as faulted happen under the aperture lock, so a
  concurrent revocation either sees the userfault and zaps, or runs before the insert.
  A fenced (tiled) view detiles: the PTEs only gate the access, and :class:`FenceDetile`
  (the mm's ``Remap``) sends each byte of the linear aperture image to its tiled object
  offset (``docs/gtt-tiling.md``).

Errors become fault codes as ``i915_error_to_vmf_fault`` maps them: EIO/EFAULT/ENODEV/ENXIO
-> SIGBUS, ENOMEM -> OOM, EAGAIN/EBUSY/EINTR/ENOSPC -> NOPAGE (nothing inserted, the access
faults again), anything else -> SIGBUS.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .. import trace
from ..errors import EFAULT, KernelError, SimBug
from ..mm import VM_WRITE, Vma, VmFault
from ..units import PAGE_SHIFT, PAGE_SIZE
from .aperture import aperture_of
from .tiling import tiled_offsets

if TYPE_CHECKING:
    from .mman import MmapOffset
    from .object import GemObject
    from .pages import SgTable

__all__ = ["FenceDetile", "error_to_vm_fault", "vm_fault_cpu", "vm_fault_gtt"]

CACHING_NONE = 0

_NOPAGE_ERRNOS = frozenset({errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ENOSPC})


def error_to_vm_fault(err: KernelError) -> VmFault:
    """``i915_error_to_vmf_fault``."""
    if err.errno == errno.ENOMEM:
        return VmFault.OOM
    if err.errno in _NOPAGE_ERRNOS:
        return VmFault.NOPAGE
    return VmFault.SIGBUS


def _insert(vma: Vma, pages: SgTable, first_page: int, start: int, end: int) -> None:
    """Map object pages from ``first_page`` at ``[start, end)`` of ``vma``."""
    n = (end - start) >> PAGE_SHIFT
    writable = bool(vma.flags & VM_WRITE)
    insert = vma.mm.insert_pfn
    for i, pfn in enumerate(pages.pfns[first_page:first_page + n].tolist()):
        insert(vma, start + i * PAGE_SIZE, pfn, writable)


def vm_fault_cpu(vma: Vma, addr: int, write: bool) -> VmFault:
    """Map every page of ``vma`` from the object's pages."""
    mmo: MmapOffset = vma.private
    obj = mmo.obj
    if obj.readonly and vma.flags & VM_WRITE:
        return VmFault.SIGBUS
    with obj.lock:
        try:
            pages = obj.pin_pages_locked()
        except KernelError as e:
            return error_to_vm_fault(e)
        try:
            obj_offset = vma.pgoff - mmo.node.start
            npages = min(vma.nr_pages, len(pages) - obj_offset)
            _insert(vma, pages, obj_offset, vma.start, vma.start + (npages << PAGE_SHIFT))
            if vma.flags & VM_WRITE:
                obj.dirty = True
        finally:
            obj.unpin_pages_locked()
    if trace.enabled:
        trace.emit("gem", "fault_cpu", obj=obj.id, addr=addr, npages=npages)
    return VmFault.NOPAGE


def vm_fault_gtt(vma: Vma, addr: int, write: bool) -> VmFault:
    """Bind the view around the faulting page in the aperture and map that view."""
    mmo: MmapOffset = vma.private
    obj = mmo.obj
    obj_offset = vma.pgoff - mmo.node.start
    page_offset = ((addr - vma.start) >> PAGE_SHIFT) + obj_offset
    writable = bool(vma.flags & VM_WRITE)
    with obj.lock:
        try:
            if obj.readonly and writable:
                raise EFAULT(f"write mapping of read-only {obj!r}")
            pages = obj.pin_pages_locked()
        except KernelError as e:
            return error_to_vm_fault(e)
        try:
            return _fault_view(vma, mmo, pages, obj_offset, page_offset, writable)
        except KernelError as e:
            return error_to_vm_fault(e)
        finally:
            obj.unpin_pages_locked()


class FenceDetile:
    """A fence register's detiling, as the mm's ``Remap`` of GTT VMAs of a tiled object.

    Byte ``L`` of the object's linear GTT image is object byte ``tiled_offsets(L)``; one
    past the object (the fence covers whole tile rows, the tail of the last one is the GGTT
    scratch page) is backed by nothing.  ``tiling`` and ``stride`` are those the fence was
    programmed with at the fault; a tiling change revokes every PTE before it takes effect.
    """

    __slots__ = ("obj", "stride", "tiling")

    def __init__(self, obj: GemObject, tiling: int, stride: int) -> None:
        self.obj = obj
        self.tiling = tiling
        self.stride = stride

    def __call__(self, vma: Vma, addr: int, n: int) -> npt.NDArray[np.int64]:
        mmo: MmapOffset = vma.private
        obj = self.obj
        pages = obj.pages
        if pages is None:
            raise SimBug(f"a GTT PTE of {obj!r} outlived its pages")
        linear = ((vma.pgoff - mmo.node.start) << PAGE_SHIFT) + (addr - vma.start)
        tiled = tiled_offsets(self.tiling, self.stride,
                              np.arange(linear, linear + n, dtype=np.int64))
        where = np.full(n, -1, dtype=np.int64)
        inside = tiled < obj.size
        t = tiled[inside]
        rows = pages.pfns[t >> PAGE_SHIFT] - obj.dev.phys.base_pfn
        where[inside] = (rows << PAGE_SHIFT) | (t & (PAGE_SIZE - 1))
        return where


def _fault_view(vma: Vma, mmo: MmapOffset, pages: SgTable, obj_offset: int,
                page_offset: int, writable: bool) -> VmFault:
    obj = mmo.obj
    ap = aperture_of(obj.dev)
    b = ap.fault_pin(obj, page_offset)
    try:
        if obj.cache_level != CACHING_NONE and not obj.dev.platform.has_llc:
            raise EFAULT("snooped pages are incoherent through the GTT")
        # The view's pages, where this VMA shows them, clipped to the VMA.
        start = max(vma.start, vma.start + ((b.offset - obj_offset) << PAGE_SHIFT))
        end = min(vma.end, vma.start + ((b.offset + b.npages - obj_offset) << PAGE_SHIFT))
        with ap.lock:
            # The fence's layout first: a PTE is never visible without the detile it needs.
            mmo.detile = (FenceDetile(obj, obj.tiling_mode, obj.stride) if b.fence is not None
                          else None)
            if start < end:
                first = obj_offset + ((start - vma.start) >> PAGE_SHIFT)
                _insert(vma, pages, first, start, end)
            ap.set_userfault_locked(b, mmo.node)
        if writable:
            obj.dirty = True
    finally:
        ap.unpin(b)
    if trace.enabled:
        trace.emit("gem", "fault_gtt", obj=obj.id, view_offset=b.offset, npages=b.npages,
                   partial=b.partial)
    return VmFault.NOPAGE


def obj_of(vma: Vma) -> GemObject:
    """The object a GEM mmap VMA maps (for tests and tools)."""
    mmo: MmapOffset = vma.private
    return mmo.obj
