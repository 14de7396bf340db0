"""The mappable GGTT aperture, as GTT mmaps see it, until the GPU layer brings a real GGTT.

A GTT mmap does not map the object's pages directly: the fault handler binds (a view of) the
object into the CPU-visible part of the global GTT, pins a fence register if the object is
tiled, and maps the aperture pages.  This module keeps exactly the state that decides *when a
GTT mapping must be revoked*:

* which views of which objects are bound (``ApertureBinding``; a NORMAL view covers the whole
  object, a PARTIAL one a 1 MiB chunk), and how much of ``platform.mappable_size`` they use --
  binding a new view evicts least-recently-used unpinned ones, revoking their user mappings;
* which binding owns each of the ``platform.num_fences`` fence registers -- a tiled view that
  needs a fence steals the least-recently-used unpinned one, revoking the victim's mappings;
* which bindings have been faulted into userspace (``userfault``; ``obj.userfault_count``
  counts them), so revocation zaps exactly the faulted ranges of the GTT offset node.

The data path is the object's own pages: the aperture is the same memory seen at another
address, so inserting the object's frames gives the program the bytes it would see.

Interface the fault handler uses (keep it this small so the GPU issue can swap in a real GGTT):

==========================  ===========================================================
``fault_pin(obj, pgoff)``   bind the view that covers object page ``pgoff`` (NORMAL if it
                            fits without eviction, else a PARTIAL chunk with eviction),
                            pin its fence if tiled; returns a pinned ``ApertureBinding``
``set_userfault_locked``    under ``lock``, with the PTE inserts: record that binding
                            ``b`` is mapped through offset node ``node``
``unpin(b)``                drop the fault's pin
``revoke_object(obj)``      zap every faulted GTT range of ``obj`` (release_mmap_gtt)
``unbind_object(obj)``      revoke and unbind every view of ``obj`` (pages put, free,
                            tiling change)
``revoke_all()``            revoke every GTT mapping (GPU reset, runtime suspend)
==========================  ===========================================================

Simplifications, deliberate: space is a page count, not an address range (no fragmentation,
no GGTT offsets); bindings never pin the object's pages beyond the fault, so the model unbinds
an object's views whenever its pages are put (the kernel gets the same effect because the
shrinker unbinds before it can put pages).  Rejected: modelling GGTT addresses and a drm_mm --
that belongs to the GPU layer, which will replace this class.

Locking: ``lock`` is the GGTT vm mutex ("ggtt.vm_mutex"), taken after the object lock.  It
guards the bindings, the fences and every object's ``userfault_count``.  Revocation calls
``dev.mapping.unmap_mapping_range`` under it (i_mmap_lock and page-table locks nest inside).
"""

from __future__ import annotations

import errno
from collections import OrderedDict
from typing import TYPE_CHECKING

from ..errors import ENOSPC, SimBug, error_for
from ..sync import Mutex
from ..units import PAGE_SHIFT

if TYPE_CHECKING:
    from .device import GemDevice
    from .object import GemObject
    from .offsets import OffsetNode

__all__ = ["ApertureBinding", "FenceReg", "GgttAperture", "aperture_of", "MIN_CHUNK_PAGES"]

MIN_CHUNK_PAGES = (1 << 20) >> PAGE_SHIFT    # partial views are 1 MiB chunks
TILING_NONE, TILING_X, TILING_Y = 0, 1, 2


def tile_height(tiling: int) -> int:
    """Rows per tile on gen4+: X tiles are 8 rows, Y tiles 32."""
    return 32 if tiling == TILING_Y else 8


def tile_row_pages(obj: GemObject) -> int:
    """Pages in one row of tiles (``tile_row_pages``): stride x tile height."""
    if obj.tiling_mode == TILING_NONE:
        return 0
    return (obj.stride * tile_height(obj.tiling_mode)) >> PAGE_SHIFT


class FenceReg:
    """One fence register and the binding that owns it."""

    __slots__ = ("binding", "id", "pin_count")

    def __init__(self, id: int) -> None:
        self.id = id
        self.binding: ApertureBinding | None = None
        self.pin_count = 0


class ApertureBinding:
    """A view of an object bound in the mappable aperture (an ``i915_vma`` in the GGTT)."""

    __slots__ = ("fence", "node", "npages", "obj", "offset", "partial", "pin_count",
                 "reserved", "userfault")

    def __init__(self, obj: GemObject, offset: int, npages: int, partial: bool,
                 reserved: int) -> None:
        self.obj = obj
        self.offset = offset            # first object page of the view
        self.npages = npages            # pages of the view
        self.partial = partial
        self.reserved = reserved        # aperture pages it takes (fence-size rounded if tiled)
        self.pin_count = 0
        self.fence: FenceReg | None = None
        self.userfault = False
        self.node: OffsetNode | None = None  # the GTT offset node it was faulted through

    def __repr__(self) -> str:
        kind = "partial" if self.partial else "normal"
        return f"<ApertureBinding obj#{self.obj.id} {kind} {self.offset}+{self.npages}>"

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.obj.id, self.offset, self.npages)


class GgttAperture:
    """Bound views, fence registers and userfault tracking of one device's aperture."""

    def __init__(self, dev: GemDevice) -> None:
        self.dev = dev
        self.lock = Mutex("ggtt.vm_mutex")
        self.total = dev.platform.mappable_size >> PAGE_SHIFT
        self.used = 0
        # key -> binding, least recently used first.
        self._lru: OrderedDict[tuple[int, int, int], ApertureBinding] = OrderedDict()
        self._by_obj: dict[int, list[ApertureBinding]] = {}
        self.fences = [FenceReg(i) for i in range(dev.platform.num_fences)]
        self._fence_lru: list[FenceReg] = list(self.fences)   # steal from the front

    # -- the fault path ---------------------------------------------------------------------
    def fault_pin(self, obj: GemObject, pgoff: int) -> ApertureBinding:
        """Bind and pin the view of ``obj`` covering object page ``pgoff``, fenced if tiled.

        Raises: ENOSPC (every binding pinned: the fault retries), ENOBUFS (every fence pinned).
        """
        with self.lock:
            b = self._bind_view(obj, pgoff)
            b.pin_count += 1
            try:
                if obj.tiling_mode != TILING_NONE:
                    self._pin_fence(b)
            except BaseException:
                b.pin_count -= 1
                raise
            return b

    def _bind_view(self, obj: GemObject, pgoff: int) -> ApertureBinding:
        """The kernel's ladder: whole object without evicting, else a chunk, evicting."""
        obj_pages = obj.size >> PAGE_SHIFT
        whole = self._lookup_or_bind(obj, 0, obj_pages, partial=False, evict=False)
        if whole is not None:
            return whole
        chunk = MIN_CHUNK_PAGES
        row = tile_row_pages(obj)
        if row:
            chunk = -(-chunk // row) * row
        if chunk >= obj_pages:
            offset, npages, partial = 0, obj_pages, False
        else:
            offset = pgoff - pgoff % chunk
            npages, partial = min(chunk, obj_pages - offset), True
        b = self._lookup_or_bind(obj, offset, npages, partial=partial, evict=True)
        if b is None:
            raise ENOSPC("every binding in the mappable aperture is pinned")
        return b

    def _lookup_or_bind(self, obj: GemObject, offset: int, npages: int, *, partial: bool,
                        evict: bool) -> ApertureBinding | None:
        key = (obj.id, offset, npages)
        b = self._lru.get(key)
        if b is not None:
            self._lru.move_to_end(key)
            return b
        reserved = self._fence_size(obj, npages)
        if reserved > self.total:
            return None
        if self.total - self.used < reserved and not (evict and self._evict_for(reserved)):
            return None
        b = ApertureBinding(obj, offset, npages, partial, reserved)
        self._lru[key] = b
        self._by_obj.setdefault(obj.id, []).append(b)
        self.used += reserved
        return b

    @staticmethod
    def _fence_size(obj: GemObject, npages: int) -> int:
        """Aperture pages a view takes: a tiled view is rounded up to whole tile rows."""
        row = tile_row_pages(obj)
        return -(-npages // row) * row if row else npages

    def _evict_for(self, need: int) -> bool:
        """Evict unpinned bindings, least recently used first, until ``need`` pages are free."""
        for b in list(self._lru.values()):
            if self.total - self.used >= need:
                break
            if b.pin_count == 0:
                self._unbind(b)
        return self.total - self.used >= need

    def _pin_fence(self, b: ApertureBinding) -> None:
        fence = b.fence
        if fence is None:
            fence = self._steal_fence()
            fence.binding, b.fence = b, fence
        self._fence_lru.remove(fence)
        self._fence_lru.append(fence)
        fence.pin_count += 1

    def _steal_fence(self) -> FenceReg:
        for fence in self._fence_lru:
            if fence.pin_count:
                continue
            victim = fence.binding
            if victim is not None:
                self._revoke(victim)
                victim.fence = None
                fence.binding = None
            return fence
        raise error_for(errno.ENOBUFS, "every fence register is pinned")

    def set_userfault_locked(self, b: ApertureBinding, node: OffsetNode) -> None:
        """``b`` now has PTEs in user mappings of ``node``: revoke them on unbind.  The caller
        holds ``lock`` across inserting the PTEs and this call."""
        b.node = node
        if not b.userfault:
            b.userfault = True
            b.obj.userfault_count += 1

    def unpin(self, b: ApertureBinding) -> None:
        with self.lock:
            if b.pin_count <= 0:
                raise SimBug(f"{b!r}: unpin of an unpinned binding")
            b.pin_count -= 1
            if b.fence is not None and b.fence.pin_count:
                b.fence.pin_count -= 1

    # -- revocation -------------------------------------------------------------------------
    def _revoke(self, b: ApertureBinding) -> None:
        """Zap the user PTEs of ``b`` (``i915_vma_revoke_mmap``); caller holds ``lock``."""
        if not b.userfault:
            return
        # The offsets the view was mapped through: the design's answer (mmap_designs).
        for node in self.dev.mmap_design.revoke_nodes(b.obj, b.node):
            if node.allocated:
                self.dev.mapping.unmap_mapping_range(node.start + b.offset, b.npages)
        b.userfault = False
        b.obj.userfault_count -= 1

    def _unbind(self, b: ApertureBinding) -> None:
        if b.pin_count:
            raise SimBug(f"{b!r}: unbind while pinned")
        self._revoke(b)
        if b.fence is not None:
            b.fence.binding = None
            self._fence_lru.remove(b.fence)
            self._fence_lru.insert(0, b.fence)     # a free fence is the first to reuse
            b.fence = None
        del self._lru[b.key]
        views = self._by_obj[b.obj.id]
        views.remove(b)
        if not views:
            del self._by_obj[b.obj.id]
        self.used -= b.reserved

    def revoke_object(self, obj: GemObject) -> None:
        """Zap every faulted GTT range of ``obj``; the views stay bound."""
        with self.lock:
            for b in self._by_obj.get(obj.id, ()):
                self._revoke(b)

    def unbind_object(self, obj: GemObject) -> None:
        """Revoke and unbind every view of ``obj`` (its pages are going away)."""
        with self.lock:
            for b in list(self._by_obj.get(obj.id, ())):
                self._unbind(b)

    def revoke_all(self) -> None:
        """Revoke every GTT mapping of every object (GPU reset, runtime suspend)."""
        with self.lock:
            for b in self._lru.values():
                self._revoke(b)

    # -- accounting -------------------------------------------------------------------------
    def nr_bindings(self) -> int:
        return len(self._lru)

    def bindings_of(self, obj: GemObject) -> list[ApertureBinding]:
        with self.lock:
            return list(self._by_obj.get(obj.id, ()))

    def nr_fences_used(self) -> int:
        with self.lock:
            return sum(1 for f in self.fences if f.binding is not None)


def aperture_of(dev: GemDevice) -> GgttAperture:
    """The device's aperture (``GemDevice.aperture``)."""
    return dev.aperture
