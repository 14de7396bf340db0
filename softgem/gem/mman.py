"""mmap_offset: CPU mappings of GEM objects through fake offsets on the DRM fd (``i915_gem_mman.c``).

A program asks MMAP_OFFSET for an offset of one *mmap type* (GTT, WC, WB, UC; FIXED only on
discrete parts), then calls ``mmap(fd, offset)``.  How offsets are kept -- one per (object,
type) with an allow list of files, or one per call and per file -- and which references a
mapping holds are the device's *mmap design* (``dev.mmap_design``,
:mod:`softgem.gem.mmap_designs`: ``merged``, the default, or ``mmap-v1``); this module is
the uAPI-facing part they share and calls only the design's operations.  Every GEM mapping
of every process lives in the device's one ``FileMapping`` (``dev.mapping``, the kernel's
anon-inode address space), at the node's page offsets, so the driver can zap all mappings
of one offset with one ``unmap_mapping_range``.

Mappings are VM_PFNMAP|VM_IO VMAs (gup refuses them: a userptr over one fails with EFAULT).
Each VMA holds its own object reference (``open`` on fork/split takes another, ``close``
drops it; mmap-v1 also refcounts the offset), so a mapping outlives GEM_CLOSE and the
closing of the fd.  Fault handlers are in
:mod:`softgem.gem.mman_fault`; the mappable aperture behind GTT mmaps in
:mod:`softgem.gem.aperture`; the legacy GEM_MMAP ioctl in :mod:`softgem.gem.mman_legacy`.

Revocation (who zaps what):

=========================  ===================================================  ============
function                   when                                                 zaps
=========================  ===================================================  ============
release_mmap_offset(obj)   the object's pages are put (shrink, purge, free)     every node
release_mmap_gtt(obj)      GGTT unbind (obj.unbind), tiling change              GTT views
revoke_all_gtt_mmaps(dev)  GPU reset, runtime suspend                           every GTT
free_mmap_offsets(obj)     the object is freed                                  nodes removed
revoke_mmap_offsets(o, f)  GEM_CLOSE of a handle of ``f``                       the design's
=========================  ===================================================  ============

Eviction from the aperture and fence stealing revoke just the victim view, inside
:mod:`softgem.gem.aperture`.  ``release_mmap_offset`` zaps the GTT node too (the kernel only zaps CPU nodes there): in the
model a GTT PTE maps the object's own frame, not an aperture page, so it must not outlive
the object's pages.

Locking is the design's (``obj.mmo`` is its per-object bookkeeping).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import trace
from ..errors import EINVAL, ENODEV, ENOENT, SimBug
from ..mm import (
    VM_DONTDUMP,
    VM_DONTEXPAND,
    VM_IO,
    VM_MAYWRITE,
    VM_PFNMAP,
    VM_WRITE,
    FileMapping,
    Vma,
    VmFault,
)
from ..units import PAGE_SHIFT
from .aperture import aperture_of
from .mman_fault import FenceDetile, vm_fault_cpu, vm_fault_gtt
from .mman_legacy import forget_filp, legacy_mmap
from .offsets import OffsetNode
from .ops import ObjectFlags

if TYPE_CHECKING:
    from .device import GemDevice
    from .file import DrmFile
    from .object import GemObject

__all__ = [
    "I915_MMAP_TYPE_GTT", "I915_MMAP_TYPE_WC", "I915_MMAP_TYPE_WB", "I915_MMAP_TYPE_UC",
    "I915_MMAP_TYPE_FIXED", "MMAP_TYPE_NAMES", "MmapOffset", "DrmMappable",
    "mmap_offset", "assign_mmap_offset", "gem_mmap", "gem_mmap_lookup", "release_mmap_offset",
    "release_mmap_gtt", "free_mmap_offsets", "revoke_mmap_offsets", "revoke_all_gtt_mmaps",
    "CPU_VM_OPS", "GTT_VM_OPS", "legacy_mmap", "find_mmap_offset", "zap_node",
]

I915_MMAP_TYPE_GTT = 0
I915_MMAP_TYPE_WC = 1
I915_MMAP_TYPE_WB = 2
I915_MMAP_TYPE_UC = 3
I915_MMAP_TYPE_FIXED = 4
MMAP_TYPE_NAMES = {0: "gtt", 1: "wc", 2: "wb", 3: "uc", 4: "fixed"}

class MmapOffset:
    """One mmap type of one object (``i915_mmap_offset``): the node userspace maps."""

    __slots__ = ("detile", "mmap_type", "node", "obj")

    def __init__(self, obj: GemObject, mmap_type: int) -> None:
        self.obj = obj
        self.mmap_type = mmap_type
        self.node = OffsetNode(self)
        # GTT only: the fence's detiling of the PTEs mapped now (set by each GTT fault
        # before it inserts, under the aperture lock; None while the object is linear).
        self.detile: FenceDetile | None = None

    def __repr__(self) -> str:
        return f"<MmapOffset obj#{self.obj.id} {MMAP_TYPE_NAMES[self.mmap_type]} {self.node!r}>"


# -- MMAP_OFFSET ------------------------------------------------------------------------------
def _mmap_type(dev: GemDevice, flags: int) -> int:
    """The ioctl's switch on ``flags``: a type the platform supports, or an errno."""
    plat = dev.platform
    if flags == I915_MMAP_TYPE_GTT:
        if not plat.has_aperture:
            raise ENODEV("no mappable aperture for GTT mmaps")
    elif flags in (I915_MMAP_TYPE_WC, I915_MMAP_TYPE_UC):
        if not plat.pat_enabled:
            raise ENODEV("WC/UC mmaps need PAT")
    elif flags not in (I915_MMAP_TYPE_WB, I915_MMAP_TYPE_FIXED):
        raise EINVAL(f"unknown mmap type {flags:#x}")
    return flags


def mmap_offset(dev: GemDevice, file: DrmFile, handle: int, flags: int,
                extensions_ok: bool = True) -> int:
    """MMAP_OFFSET (and MMAP_GTT, flags 0) after the uapi layer walked the extensions chain.

    ``extensions_ok`` False means the chain was readable but non-empty (no extension is
    defined for this ioctl): EINVAL.  Returns the fake byte offset to pass to mmap.

    Raises, first failure wins: EINVAL (extension, unknown type); ENODEV (type unsupported
    by the platform); ENOENT (handle); ENODEV (object never mmappable, FIXED on integrated,
    a non-GTT type for an object without struct pages); ENOSPC (offset space exhausted).
    """
    if not extensions_ok:
        raise EINVAL("MMAP_OFFSET defines no extension")
    mmap_type = _mmap_type(dev, flags)
    obj = file.lookup(handle)
    try:
        with obj.lock:
            return assign_mmap_offset(obj, mmap_type, file)
    finally:
        obj.put()


def assign_mmap_offset(obj: GemObject, mmap_type: int, file: DrmFile | None) -> int:
    """``__assign_mmap_offset``: the object's checks, then its node; caller holds obj.lock."""
    if obj.flags & ObjectFlags.NO_MMAP:
        raise ENODEV(f"{obj!r} can never be mmapped")
    # No object kind here has its own mmap_offset op (TTM/lmem only), so FIXED is refused.
    if mmap_type == I915_MMAP_TYPE_FIXED:
        raise ENODEV("FIXED mmaps exist only on discrete parts")
    if mmap_type != I915_MMAP_TYPE_GTT and not obj.flags & ObjectFlags.HAS_STRUCT_PAGE:
        raise ENODEV(f"{obj!r} has no struct pages to map")
    mmo = obj.dev.mmap_design.attach(obj, mmap_type, file)
    return mmo.node.offset_addr()


# -- mmap(2) of the DRM fd ----------------------------------------------------------------------
def gem_mmap_lookup(dev: GemDevice, file: DrmFile, pgoff: int, npages: int,
                    write: bool) -> tuple[GemObject, MmapOffset]:
    """The checks of ``i915_gem_mmap`` before it touches the VMA: the node that starts at
    page ``pgoff`` and spans ``npages``, open to ``file``, and its object (a new reference
    for the caller).  Host mode runs the same checks before it maps anything.

    Raises: EINVAL (no such node), EACCES (the node is not open to ``file``, or its object
    is being freed), EINVAL (``write``: a writable mapping of a read-only object).
    """
    obj, mmo = dev.mmap_design.lookup(dev, file, pgoff, npages)
    if obj.readonly and write:
        obj.put()
        raise EINVAL(f"writable mapping of read-only {obj!r}")
    return obj, mmo


def gem_mmap(dev: GemDevice, file: DrmFile, vma: Vma) -> None:
    """``i915_gem_mmap`` (the DRM fd's ``f_op->mmap``), called by mm with mmap_lock held.

    Raises what :func:`gem_mmap_lookup` raises.
    """
    obj, mmo = gem_mmap_lookup(dev, file, vma.pgoff, vma.nr_pages,
                               bool(vma.flags & VM_WRITE))
    if obj.readonly:
        vma.flags &= ~VM_MAYWRITE
    vma.flags |= VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_IO
    vma.private = mmo
    vma.vm_ops = GTT_VM_OPS if mmo.mmap_type == I915_MMAP_TYPE_GTT else CPU_VM_OPS
    dev.mmap_design.mmap_attached(vma, mmo)
    if trace.enabled:
        trace.emit("gem", "mmap", obj=obj.id, type=MMAP_TYPE_NAMES[mmo.mmap_type],
                   addr=vma.start, length=vma.end - vma.start)


class _GemVmOps:
    """Shared ``open``/``close``: the references a VMA holds are the design's."""

    __slots__ = ()

    def open(self, vma: Vma) -> None:
        mmo: MmapOffset = vma.private
        mmo.obj.dev.mmap_design.vm_open(vma)

    def close(self, vma: Vma) -> None:
        mmo: MmapOffset = vma.private
        mmo.obj.dev.mmap_design.vm_close(vma)


class CpuVmOps(_GemVmOps):
    """``vm_ops_cpu``: WB, WC and UC mappings map the object's pages directly."""

    __slots__ = ()

    def fault(self, vma: Vma, addr: int, write: bool) -> VmFault:
        return vm_fault_cpu(vma, addr, write)


class GttVmOps(_GemVmOps):
    """``vm_ops_gtt``: mappings through the mappable aperture."""

    __slots__ = ()

    def fault(self, vma: Vma, addr: int, write: bool) -> VmFault:
        return vm_fault_gtt(vma, addr, write)

    def remap(self, vma: Vma) -> FenceDetile | None:
        """The fence between the aperture and the pages of a tiled object (vmops.Remap)."""
        mmo: MmapOffset = vma.private
        return mmo.detile


CPU_VM_OPS = CpuVmOps()
GTT_VM_OPS = GttVmOps()


class DrmMappable:
    """What an open DRM fd hands to ``mm.mmap``: the shared GEM address space plus
    ``f_op->mmap``, and the open mode of the fd (``do_mmap`` refuses a writable shared
    mapping of a file not open for writing, and takes VM_MAYWRITE away from a read-only one,
    so a later mprotect to write fails too).  The machine layer builds one per mmap call."""

    __slots__ = ("dev", "file", "mapping", "readable", "writable")

    def __init__(self, dev: GemDevice, file: DrmFile, *, readable: bool = True,
                 writable: bool = True) -> None:
        self.dev = dev
        self.file = file
        self.mapping: FileMapping = dev.mapping
        self.readable = readable
        self.writable = writable

    def mmap(self, vma: Vma) -> None:
        gem_mmap(self.dev, self.file, vma)


# -- revocation -------------------------------------------------------------------------------
def release_mmap_offset(obj: GemObject) -> None:
    """Zap every user mapping of ``obj`` (its pages are being put); the next access faults.

    Unbinding the object's aperture views first revokes its faulted GTT ranges and their
    fences; the whole GTT node is then zapped too, for the reason in the module doc.
    """
    aperture_of(obj.dev).unbind_object(obj)
    obj.dev.mmap_design.zap(obj)


def zap_node(obj: GemObject, node: OffsetNode) -> None:
    """Zap every user mapping of ``node`` (a design's helper)."""
    if node.allocated:
        obj.dev.mapping.unmap_mapping_range(node.start, node.npages)


def release_mmap_gtt(obj: GemObject) -> None:
    """Revoke ``obj``'s GTT mappings (``i915_gem_object_release_mmap_gtt``).

    The model unbinds the views as well: their fences and tile-row geometry are stale after
    a tiling change, and after a GGTT unbind they are gone anyway.
    """
    aperture_of(obj.dev).unbind_object(obj)


def revoke_all_gtt_mmaps(dev: GemDevice) -> None:
    """Revoke every GTT mapping of every object (GPU reset, runtime suspend)."""
    aperture_of(dev).revoke_all()


def free_mmap_offsets(obj: GemObject) -> None:
    """The object is being freed: drop its views and remove every node it owns."""
    aperture_of(obj.dev).unbind_object(obj)
    obj.dev.mmap_design.free_object(obj)
    forget_filp(obj)
    if obj.userfault_count:
        raise SimBug(f"{obj!r} freed with {obj.userfault_count} GTT userfaults")


def revoke_mmap_offsets(obj: GemObject, file: DrmFile) -> None:
    """GEM_CLOSE of a handle of ``file`` (the design's: the merged one takes ``file`` off
    the allow lists; mappings that exist stay, they hold their own references)."""
    obj.dev.mmap_design.close_object(obj, file)


def find_mmap_offset(obj: GemObject, mmap_type: int) -> MmapOffset | None:
    """The object's (first) node of ``mmap_type`` if one was created (for tests and tools)."""
    for mmo in obj.dev.mmap_design.offsets(obj):
        if mmo.mmap_type == mmap_type:
            return mmo
    return None


def lookup_object(dev: GemDevice, offset: int) -> GemObject:
    """The object whose node starts at byte ``offset`` (no reference taken; for tools)."""
    node = dev.offsets.exact_lookup(offset >> PAGE_SHIFT, 1)
    if node is None:
        raise ENOENT(f"no mmap offset {offset:#x}")
    owner: MmapOffset = node.owner
    return owner.obj
