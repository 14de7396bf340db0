"""shmem: the backing kind of GEM_CREATE objects (``i915_gem_shmem_ops``).

A shmem object is backed by an anonymous shmem file; here the file's page cache is a sparse
map from page index to frame, ``ShmemState.cache``.  Its life:

==============  =================================================================================
event           effect on the backing store (frames) and on the object's page list (obj.pages)
==============  =================================================================================
create          no frames at all (VM_NORESERVE): a huge object costs nothing until used
pwrite fast     (no page list yet) instantiates only the pages written, straight into the store
get_pages       instantiates every missing frame (zeroed), builds the page list from the store
put_pages       the page list goes; the frames stay (the model's "swap": contents survive)
truncate        (DONTNEED, no page list) zaps legacy GEM_MMAPs of the store, frees every frame;
                madv becomes PURGED for good and every later get_pages fails with EFAULT
release         frees every frame
==============  =================================================================================

All transitions run under the object lock.  When frames run out, ``get_pages`` asks the
shrinker for twice the object's size (trylocking other objects only) and retries once before
reporting ENOMEM, as ``shmem_sg_alloc_table`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import trace
from ..errors import E2BIG, EFAULT, EINVAL, ENOMEM, SimBug
from ..units import PAGE_SHIFT, PAGE_SIZE, page_offset
from . import shrinker
from .object import MADV_DONTNEED, MADV_PURGED, MADV_WILLNEED, GemObject
from .ops import ObjectFlags
from .pages import SgTable

if TYPE_CHECKING:
    from ..mm import UserMm
    from .device import GemDevice

__all__ = ["SHMEM_OPS", "ShmemOps", "ShmemState", "MAX_LFS_FILESIZE", "shmem_create",
           "is_shmem"]

# The largest shmem file on a 64-bit kernel (``MAX_LFS_FILESIZE``): bigger objects are E2BIG.
MAX_LFS_FILESIZE = (1 << 63) - 1
_U32_MAX = (1 << 32) - 1
DOMAIN_CPU = 0x1


class ShmemState:
    """The shmem file behind one object: its page cache, page index -> frame (sparse)."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict[int, int] | None = {}   # None once truncated


def _state(obj: GemObject) -> ShmemState:
    st = obj.private
    if not isinstance(st, ShmemState):
        raise SimBug(f"{obj!r} is not a shmem object")
    return st


def _cache(obj: GemObject) -> dict[int, int]:
    cache = _state(obj).cache
    if cache is None:
        raise EFAULT(f"{obj!r}: the shmem store was truncated")
    return cache


def _instantiate(dev: GemDevice, cache: dict[int, int], first: int, last: int,
                 want: int) -> None:
    """Give pages ``first..last-1`` of the store a frame each (``shmem_read_mapping_page``).

    On exhaustion, shrink other objects once (``want`` pages) and retry; frames already added
    stay in the store, as pages already read into a shmem mapping do.
    """
    alloc = dev.phys.alloc_page
    retried = False
    i = first
    while i < last:
        if i not in cache:
            try:
                cache[i] = alloc()
            except ENOMEM:
                if retried:
                    raise
                retried = True
                shrinker.shrink(dev, want)
                continue
        i += 1


class ShmemOps:
    """The shmem backing ops."""

    name = "shmem"
    flags = ObjectFlags.HAS_STRUCT_PAGE | ObjectFlags.IS_SHRINKABLE | ObjectFlags.HAS_FILP

    def get_pages(self, obj: GemObject) -> SgTable:
        """Instantiate the whole store and return its page list (``shmem_get_pages``).

        Raises EFAULT for a purgeable (DONTNEED) or purged object, E2BIG when the page count
        does not fit the scatterlist's 32-bit count, ENOMEM when the object is larger than RAM
        or frames run out even after shrinking.
        """
        if obj.madv != MADV_WILLNEED:
            raise EFAULT(f"{obj!r}: attempting to obtain a purgeable object")
        npages = obj.size >> PAGE_SHIFT
        if npages > _U32_MAX:
            raise E2BIG(f"{npages} pages do not fit a scatterlist")
        dev = obj.dev
        if obj.size > dev.phys.nr_frames * PAGE_SIZE:
            raise ENOMEM(f"{obj!r} is larger than RAM")
        cache = _cache(obj)
        _instantiate(dev, cache, 0, npages, 2 * npages)
        shrinker.track(obj)
        return SgTable([cache[i] for i in range(npages)], dev.platform.max_segment)

    def put_pages(self, obj: GemObject, pages: SgTable) -> None:
        """Drop the page list; the frames stay in the store (``i915_gem_object_put_pages_shmem``).

        Dirty pages are marked dirty (none for DONTNEED: their contents do not matter), pages
        of a wanted object are marked accessed, and the object is back in the CPU domain.
        """
        if obj.madv == MADV_DONTNEED:
            obj.dirty = False
        phys = obj.dev.phys
        for pfn in pages:
            if obj.dirty:
                phys.set_dirty(pfn)
            if obj.madv == MADV_WILLNEED:
                phys.set_accessed(pfn)
        obj.dirty = False
        obj.read_domains = obj.write_domain = DOMAIN_CPU
        shrinker.untrack(obj)

    def truncate(self, obj: GemObject) -> None:
        """Discard the store (``shmem_truncate``); the object is PURGED from now on."""
        if obj.pages is not None:
            raise SimBug(f"{obj!r}: truncate with a page list attached")
        # shmem_truncate_range unmaps the file first: legacy GEM_MMAPs map the store itself.
        from .mman_legacy import release_legacy_mmaps

        release_legacy_mmaps(obj)
        _free_store(obj, _state(obj), truncated=True)
        obj.madv = MADV_PURGED

    def release(self, obj: GemObject) -> None:
        shrinker.untrack(obj)
        _free_store(obj, _state(obj))

    def pread(self, obj: GemObject) -> None:
        """Shmem reads go through the generic page path."""

    def pwrite(self, obj: GemObject) -> None:
        """Shmem writes are accepted (see :meth:`pwrite_pagecache` for the fast path)."""

    def dmabuf_export(self, obj: GemObject) -> None:
        """Shmem objects can be exported."""

    def pwrite_pagecache(self, obj: GemObject, mm: UserMm, offset: int, user_ptr: int,
                         size: int) -> bool:
        """PWRITE straight into the store while the object has no page list (``shmem_pwrite``).

        Returns False when the object has a page list (the caller takes the generic path).
        Raises EFAULT for a purgeable or purged object, or when the user buffer faults (pages
        written before the fault keep their new contents).  Only the pages written get frames.
        """
        if obj.pages is not None:
            return False
        if obj.madv != MADV_WILLNEED:
            raise EFAULT(f"{obj!r}: pwrite to a purgeable object")
        phys = obj.dev.phys
        pg = page_offset(offset)
        while size:
            n = min(PAGE_SIZE - pg, size)
            data = mm.copy_from_user(user_ptr, n)   # outside the object lock: it may fault
            idx = offset >> PAGE_SHIFT
            with obj.lock:
                cache = _cache(obj)
                _instantiate(obj.dev, cache, idx, idx + 1, 1)
                pfn = cache[idx]
                phys.write(pfn, pg, data)
                phys.set_dirty(pfn)
            size -= n
            user_ptr += n
            offset += n
            pg = 0
        return True


SHMEM_OPS = ShmemOps()


def _free_store(obj: GemObject, st: ShmemState, truncated: bool = False) -> None:
    cache, st.cache = st.cache, None
    mirror = obj.dev.store_mirror
    if mirror is not None:
        mirror.store_freed(obj, truncated)
    if cache:
        obj.dev.phys.put_pages(cache.values())
        if trace.enabled:
            trace.emit("gem", "shmem_free", obj=obj.id, npages=len(cache))


def is_shmem(obj: GemObject) -> bool:
    return obj.ops is SHMEM_OPS


def shmem_create(dev: GemDevice, size: int) -> GemObject:
    """A new shmem object of ``size`` bytes (page aligned), with one reference for the caller.

    Raises E2BIG above the largest shmem file (``__create_shmem``); EINVAL for a size that is
    zero or not page aligned (a caller bug the ioctl paths never let through).
    """
    if not size or page_offset(size):
        raise EINVAL(f"shmem object size {size:#x}")
    if size > MAX_LFS_FILESIZE:
        raise E2BIG(f"shmem object of {size:#x} bytes")
    obj = GemObject(dev, size, SHMEM_OPS)
    obj.private = ShmemState()
    obj.read_domains = obj.write_domain = DOMAIN_CPU
    if trace.enabled:
        trace.emit("gem", "create", obj=obj.id, kind="shmem", size=size)
    return obj
