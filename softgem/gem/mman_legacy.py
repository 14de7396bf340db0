"""Legacy GEM_MMAP: a shared mapping of the object's shmem file (``i915_gem_mmap_ioctl``).

Unlike MMAP_OFFSET, this maps the shmem file itself (``vm_mmap(obj->base.filp, ...)``): the
VMA is an ordinary shared file mapping, not VM_PFNMAP, its PTEs take page references, and gup
can pin through it (a userptr over a legacy mapping works).  The ioctl returns the address.

Each object with a shmem file gets one :class:`ShmemFilp` on first use -- its own
``FileMapping`` (the file's i_mmap) and fault handler.  The fault maps the whole VMA from the
object's pages (pinned for the duration, as for a CPU mmap).

Model choices, and where they differ from the kernel:

* The VMA holds an *object* reference (the kernel's holds the file, which keeps only the
  pages alive).  The object therefore outlives GEM_CLOSE while mapped; userspace sees the
  same thing (its mapping keeps working), the object counter sees one more object.
* Putting pages does not zap a legacy mapping (the shmem page cache keeps its pages, as the
  model's shmem store does).  Truncation does: shmem's ``truncate`` calls
  :func:`release_legacy_mmaps`, as ``shmem_truncate_range`` unmaps the file.  A later fault
  gets SIGBUS (the purged object has no pages) where the kernel would map fresh zero pages
  of the still-existing file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..abi import I915_MMAP_WC
from ..errors import EINVAL, ENODEV, ENXIO, EOPNOTSUPP, KernelError
from ..mm import VM_WRITE, FileMapping, MappableFile, Vma, VmFault
from ..posix import MAP_SHARED, PROT_READ, PROT_WRITE
from ..units import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, page_align
from .mman_fault import error_to_vm_fault
from .ops import ObjectFlags

if TYPE_CHECKING:
    from .device import GemDevice
    from .file import DrmFile
    from .object import GemObject

__all__ = ["I915_MMAP_WC", "ShmemFilp", "legacy_mmap", "release_legacy_mmaps", "forget_filp",
           "shmem_filp"]

_U64_MAX = (1 << 64) - 1


class MapsFiles(Protocol):
    """The one system call legacy_mmap needs from the caller's address space."""

    def mmap(self, addr: int, length: int, prot: int, flags: int,
             file: MappableFile | None = None, pgoff: int = 0) -> int: ...


class LegacyVmOps:
    """The shmem file's ``vm_ops``: one object reference per VMA, whole-VMA faults."""

    __slots__ = ()

    def open(self, vma: Vma) -> None:
        obj: GemObject = vma.private
        obj.get()

    def close(self, vma: Vma) -> None:
        obj: GemObject = vma.private
        obj.put()

    def fault(self, vma: Vma, addr: int, write: bool) -> VmFault:
        obj: GemObject = vma.private
        npages = obj.size >> PAGE_SHIFT
        if vma.pgoff_of(addr) >= npages:
            return VmFault.SIGBUS            # beyond the end of the file
        writable = bool(vma.flags & VM_WRITE)
        with obj.lock:
            try:
                pages = obj.pin_pages_locked()
            except KernelError as e:
                return error_to_vm_fault(e)
            try:
                last = min(vma.pgoff + vma.nr_pages, npages)
                for i, pfn in enumerate(pages.pfns[vma.pgoff:last].tolist()):
                    vma.mm.insert_page(vma, vma.start + i * PAGE_SIZE, pfn, writable)
            finally:
                obj.unpin_pages_locked()
        return VmFault.NOPAGE


LEGACY_VM_OPS = LegacyVmOps()


class ShmemFilp:
    """``obj->base.filp`` as a MappableFile."""

    __slots__ = ("mapping", "obj")

    def __init__(self, obj: GemObject) -> None:
        self.obj = obj
        self.mapping = FileMapping(f"i915.shmem#{obj.id}")

    def mmap(self, vma: Vma) -> None:
        vma.vm_ops = LEGACY_VM_OPS
        vma.private = self.obj.get()


# The files live on the device (``GemDevice.shmem_filps``, keyed by object id, under
# ``shmem_filps_lock``): object ids restart on every device.
def _filp(obj: GemObject) -> ShmemFilp:
    dev = obj.dev
    with dev.shmem_filps_lock:
        filp = dev.shmem_filps.get(obj.id)
        if filp is None:
            filp = dev.shmem_filps[obj.id] = ShmemFilp(obj)
        return filp


def shmem_filp(obj: GemObject) -> ShmemFilp:
    """``obj->base.filp`` (what a dma-buf of the object maps, too)."""
    return _filp(obj)


def forget_filp(obj: GemObject) -> None:
    """The object is freed: drop its file (no VMA can map it any more)."""
    dev = obj.dev
    with dev.shmem_filps_lock:
        dev.shmem_filps.pop(obj.id, None)


def release_legacy_mmaps(obj: GemObject) -> None:
    """Zap every legacy mapping of ``obj`` (its shmem store is being truncated)."""
    dev = obj.dev
    with dev.shmem_filps_lock:
        filp = dev.shmem_filps.get(obj.id)
    if filp is not None:
        filp.mapping.unmap_mapping_range(0, None)


def _range_overflows(start: int, size: int, limit: int) -> bool:
    return start >= limit or size > limit - start


def legacy_mmap(dev: GemDevice, file: DrmFile, mm: MapsFiles, handle: int, offset: int,
                size: int, flags: int) -> int:
    """GEM_MMAP: map ``size`` bytes of the object from byte ``offset``; returns the address.

    Raises, first failure wins: EOPNOTSUPP (discrete or newer than gen12), EINVAL (flags
    other than I915_MMAP_WC), ENODEV (WC without PAT), ENOENT (handle), ENXIO (no shmem file:
    userptr, imported dma-buf), EINVAL (range outside the object), then ``vm_mmap``'s own
    (EINVAL unaligned offset or zero size, ENOMEM no room).
    """
    plat = dev.platform
    if plat.is_dgfx or plat.graphics_ver > 12:
        raise EOPNOTSUPP("GEM_MMAP is gone on this platform")
    if flags & ~I915_MMAP_WC:
        raise EINVAL(f"GEM_MMAP flags {flags:#x}")
    if flags & I915_MMAP_WC and not plat.pat_enabled:
        raise ENODEV("WC mmaps need PAT")
    obj = file.lookup(handle)
    try:
        if not obj.flags & ObjectFlags.HAS_FILP:
            raise ENXIO(f"{obj!r} has no shmem file to map")
        if _range_overflows(offset, size, obj.size):
            raise EINVAL(f"[{offset:#x}, +{size:#x}) outside {obj!r}")
        # vm_mmap: the byte offset must be page aligned and must not wrap with the length.
        if offset + page_align(size) > _U64_MAX or offset & ~PAGE_MASK:
            raise EINVAL(f"GEM_MMAP offset {offset:#x}")
        # Our reference keeps the object alive until the new VMA holds its own.
        return mm.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, file=_filp(obj),
                       pgoff=offset >> PAGE_SHIFT)
    finally:
        obj.put()
