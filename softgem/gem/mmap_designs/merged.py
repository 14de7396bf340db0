"""merged: i915's mmap offsets since v5.5 ("drm/i915: Introduce DRM_I915_GEM_MMAP_OFFSET").

Each (object, mmap type) has at most one :class:`~softgem.gem.mman.MmapOffset`, created on
the first request and kept until the object is freed (``obj.mmo``: type -> offset, the
kernel's rb-tree under ``obj->mmo.lock``).  Asking adds the calling file to the node's allow
list once; GEM_CLOSE takes it off again.  ``i915_gem_mmap`` checks the allow list and takes
the object reference with ``get_unless_zero`` *while holding the offset manager's lock for
read*, so an object whose last reference is being dropped (its nodes are removed under the
write side during free) is never mapped.  A VMA holds an object reference only: the offset
lives as long as the object.  A GTT fault records the offset it went through in the GGTT view
(``vma->mmo``), so revoking a view zaps that one range and walks no list.

Locking: ``obj.mmo`` changes under the object lock *and* ``_mmo_lock`` (a spinlock, so
GEM_CLOSE can walk it without the object lock, as ``obj->mmo.lock`` allows).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ... import trace
from ...errors import EACCES, EINVAL
from ...sync import SpinLock
from ...units import PAGE_SHIFT
from . import register

if TYPE_CHECKING:
    from ...mm import Vma
    from ..device import GemDevice
    from ..file import DrmFile
    from ..mman import MmapOffset
    from ..object import GemObject
    from ..offsets import OffsetNode

__all__ = ["Merged"]

_mmo_lock = SpinLock("gem.object.mmo_lock")


class Merged:
    name = "merged"

    def init_object(self) -> Any:
        return {}

    def attach(self, obj: GemObject, mmap_type: int, file: DrmFile | None) -> MmapOffset:
        from ..mman import MMAP_TYPE_NAMES, MmapOffset

        mmo: MmapOffset | None = obj.mmo.get(mmap_type)
        if mmo is None:
            mmo = MmapOffset(obj, mmap_type)
            obj.dev.offsets.add(mmo.node, obj.size >> PAGE_SHIFT)
            with _mmo_lock:
                obj.mmo[mmap_type] = mmo
            if trace.enabled:
                trace.emit("gem", "mmap_offset", obj=obj.id, type=MMAP_TYPE_NAMES[mmap_type],
                           offset=mmo.node.offset_addr())
        if file is not None:
            mmo.node.allow_once(file)
        return mmo

    def lookup(self, dev: GemDevice, file: DrmFile, pgoff: int,
               npages: int) -> tuple[GemObject, MmapOffset]:
        offsets = dev.offsets
        obj: GemObject | None = None
        with offsets.lock.read():
            node = offsets.exact_lookup_locked(pgoff, npages)
            if node is not None and node.is_allowed(file):
                mmo: MmapOffset = node.owner
                obj = mmo.obj.get_unless_zero()
        if obj is None:
            if node is None:
                raise EINVAL(f"no mmap offset node at page {pgoff:#x} (+{npages})")
            raise EACCES(f"{node!r} is not mappable by this file")
        return obj, mmo

    def mmap_attached(self, vma: Vma, mmo: MmapOffset) -> None:
        """The object reference :meth:`lookup` took is the VMA's; nothing more."""

    def vm_open(self, vma: Vma) -> None:
        mmo: MmapOffset = vma.private
        mmo.obj.get()

    def vm_close(self, vma: Vma) -> None:
        mmo: MmapOffset = vma.private
        mmo.obj.put()

    def close_object(self, obj: GemObject, file: DrmFile) -> None:
        """``file`` may no longer mmap any node of ``obj``; existing mappings stay."""
        for mmo in self.offsets(obj):
            mmo.node.revoke(file)

    def free_object(self, obj: GemObject) -> None:
        from ..mman import zap_node

        with _mmo_lock:
            mmos = [obj.mmo[t] for t in sorted(obj.mmo)]
            obj.mmo.clear()
        for mmo in mmos:
            zap_node(obj, mmo.node)
            obj.dev.offsets.remove(mmo.node)

    def offsets(self, obj: GemObject) -> list[MmapOffset]:
        with _mmo_lock:
            return [obj.mmo[t] for t in sorted(obj.mmo)]

    def zap(self, obj: GemObject) -> None:
        from ..mman import zap_node

        for mmo in self.offsets(obj):
            zap_node(obj, mmo.node)

    def revoke_nodes(self, obj: GemObject, node: OffsetNode | None) -> Iterable[OffsetNode]:
        return () if node is None else (node,)


register("merged", Merged)
