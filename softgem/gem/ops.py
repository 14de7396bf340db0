"""The backing-store ops table every object kind implements (``drm_i915_gem_object_ops``)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .object import GemObject
    from .pages import SgTable

__all__ = ["ObjectFlags", "BackingOps", "MADV_WILLNEED", "MADV_DONTNEED", "MADV_PURGED"]

MADV_WILLNEED = 0   # I915_MADV_WILLNEED
MADV_DONTNEED = 1   # I915_MADV_DONTNEED
MADV_PURGED = 2     # __I915_MADV_PURGED


class ObjectFlags(enum.IntFlag):
    NONE = 0
    HAS_STRUCT_PAGE = 1 << 0     # pages are ordinary memory (CPU mmaps allowed)
    IS_SHRINKABLE = 1 << 1
    NO_MMAP = 1 << 2             # never mmappable (userptr): MMAP_OFFSET -> ENODEV
    IS_PROXY = 1 << 3            # pages belong to someone else (userptr): no tiling/caching
    HAS_FILP = 1 << 4            # a shmem file backs it (legacy GEM_MMAP works)


class BackingOps(Protocol):
    """One object kind: how its pages are obtained and given back.

    Raises (get_pages): the errno the kind reports -- EFAULT for a userptr over a hole, ENOMEM
    when frames run out, EAGAIN when the pages must be revalidated first.
    """

    name: str
    flags: ObjectFlags

    def get_pages(self, obj: GemObject) -> SgTable: ...

    def put_pages(self, obj: GemObject, pages: SgTable) -> None: ...

    def release(self, obj: GemObject) -> None:
        """Last reference: drop whatever the kind holds beyond its pages."""

    def pread(self, obj: GemObject) -> None:
        """Raise to refuse PREAD (userptr: EINVAL); return to use the generic path."""

    def pwrite(self, obj: GemObject) -> None:
        """Raise to refuse PWRITE (userptr: EINVAL); return to use the generic path."""

    def dmabuf_export(self, obj: GemObject) -> None:
        """Raise to refuse PRIME export (userptr: EINVAL)."""
