"""The GEM buffer object (``drm_gem_object`` + ``drm_i915_gem_object``).

Lifetime: ``kref`` counts references (handles, mappings, lookups in flight); ``handle_count``
counts handles across all files.  The last ``put`` releases the object: its pages are put, its
mmap offsets removed, its kind's ``release`` runs, and the Python object *poisons itself*
(its class becomes :class:`FreedObject`), so any later access raises SimBug instead of silently
using freed state.

Pages: ``pages`` is the object's page list while it has one; ``pages_pin_count`` counts users
that need the pages to stay (a GPU binding, a fault in progress).  Pages are put only when
unpinned: by unbind-before-repin (userptr), the shrinker, purge (MADV_DONTNEED), or free.
Putting pages zaps every CPU mmap of the object first, so the next access faults again.

Locking: ``lock`` is the object lock (the reservation ww_mutex in the kernel), class
"gem.object".  It is taken after mmap_lock and before the notifier lock (design.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import EFAULT, SimBug
from ..sync import Kref, Mutex
from . import shrinker
from .ops import MADV_DONTNEED, MADV_PURGED, MADV_WILLNEED, BackingOps, ObjectFlags
from .pages import SgTable
from .resv import Reservation

if TYPE_CHECKING:
    from .device import GemDevice
    from .file import DrmFile

__all__ = ["GemObject", "FreedObject", "MADV_WILLNEED", "MADV_DONTNEED", "MADV_PURGED"]


# Tiling / caching values (i915_drm.h); duplicated as plain ints to keep gem free of uapi.
TILING_NONE = 0
CACHING_NONE = 0
CACHING_CACHED = 1


class GemObject:
    """One buffer object.  Not slotted: freeing swaps its class to poison it."""

    def __init__(self, dev: GemDevice, size: int, ops: BackingOps) -> None:
        self.dev = dev
        self.size = size
        self.ops = ops
        self.id = dev.next_object_id()
        self.kref = Kref()
        self.handle_count = 0
        self.lock = Mutex("gem.object")
        self.resv = Reservation()
        self.pages: SgTable | None = None
        self.pages_pin_count = 0
        self.dirty = False
        self.madv = MADV_WILLNEED
        self.readonly = False
        self.read_domains = 0
        self.write_domain = 0
        self.cache_level = CACHING_CACHED if dev.platform.has_llc else CACHING_NONE
        self.tiling_mode = TILING_NONE
        self.stride = 0
        self.name = 0                      # flink name, 0 when none
        self.dma_buf: Any = None           # the exported dma-buf while one exists
        self.mmo: Any = dev.mmap_design.init_object()   # the mmap design's offsets
        self.userfault_count = 0           # GTT mappings faulted in (revoked on unbind)
        self.private: Any = None           # the kind's own state (userptr: UserptrState)
        self.pat_index = 0                 # GEM_CREATE_EXT_SET_PAT
        self.pat_set_by_user = False
        dev.object_created(self)

    def __repr__(self) -> str:
        return f"<GemObject #{self.id} {self.ops.name} {self.size:#x}>"

    @property
    def flags(self) -> ObjectFlags:
        return self.ops.flags

    # -- references --------------------------------------------------------------------------
    def get(self) -> GemObject:
        self.kref.get()
        return self

    def get_unless_zero(self) -> GemObject | None:
        return self if self.kref.get_unless_zero() else None

    def put(self) -> None:
        self.kref.put(self._release)

    def _release(self) -> None:
        with self.dev.userptr_design.object_free_lock(self):
            self._release_locked()

    def _release_locked(self) -> None:
        with self.lock:
            if self.pages_pin_count:
                raise SimBug(f"{self!r} freed with pinned pages")
            self.put_pages_locked()
        self.dev.release_mmap_offsets(self)
        self.ops.release(self)
        if trace.enabled:
            trace.emit("gem", "free", obj=self.id, kind=self.ops.name)
        self.dev.object_freed(self)
        _poison(self)

    # -- pages -------------------------------------------------------------------------------
    def get_pages_locked(self) -> SgTable:
        """Make sure the object has pages, without pinning them (caller holds ``lock``)."""
        if self.pages is None:
            if self.madv != MADV_WILLNEED:
                raise EFAULT(f"{self!r}: attempting to obtain a purgeable object")
            pages = self.ops.get_pages(self)
            self.pages = pages
            shrinker.track(self)
            if trace.enabled:
                trace.emit("gem", "get_pages", obj=self.id, npages=len(pages),
                           segments=pages.nents)
        return self.pages

    def pin_pages_locked(self) -> SgTable:
        """Make sure the object has pages and pin them (caller holds ``lock``)."""
        pages = self.get_pages_locked()
        self.pages_pin_count += 1
        return pages

    def unpin_pages_locked(self) -> None:
        if self.pages_pin_count <= 0:
            raise SimBug(f"{self!r}: unpin of unpinned pages")
        self.pages_pin_count -= 1

    def has_pages(self) -> bool:
        return self.pages is not None

    def put_pages_locked(self) -> bool:
        """Give the pages back if nobody pins them (``__i915_gem_object_put_pages``).

        CPU mmaps are zapped first: the next access faults and pins again.  Returns whether
        pages were put.
        """
        if self.pages is None or self.pages_pin_count:
            return False
        self.dev.release_mmap_cpu(self)
        pages, self.pages = self.pages, None
        shrinker.untrack(self)
        self.ops.put_pages(self, pages)
        if trace.enabled:
            trace.emit("gem", "put_pages", obj=self.id, npages=len(pages))
        return True

    def unbind(self, wait: bool = True) -> None:
        """Unbind from every GPU address space (``i915_gem_object_unbind(ACTIVE)``)."""
        gpu = self.dev.gpu
        if gpu is not None:
            gpu.unbind_object(self, wait)
        if self.userfault_count:
            self.dev.release_mmap_gtt(self)

    # -- per-file close ------------------------------------------------------------------------
    def close(self, file: DrmFile) -> None:
        """A handle of ``file`` to this object was closed (``i915_gem_close_object``)."""
        self.dev.revoke_mmap_offsets(self, file)
        gpu = self.dev.gpu
        if gpu is not None:
            gpu.close_object(self, file)


class FreedObject:
    """What a GemObject becomes when freed: every attribute access is a bug."""

    def __getattribute__(self, name: str) -> Any:
        if name in ("__class__", "__repr__", "__dict__"):
            return object.__getattribute__(self, name)
        raise SimBug(f"use of a freed GEM object (attribute {name!r})")

    def __setattr__(self, name: str, value: Any) -> None:
        raise SimBug(f"write to a freed GEM object (attribute {name!r})")

    def __repr__(self) -> str:
        return "<freed GemObject>"


def _poison(obj: GemObject) -> None:
    obj.__dict__.clear()
    object.__setattr__(obj, "__class__", FreedObject)
