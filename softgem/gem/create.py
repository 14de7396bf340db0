"""GEM_CREATE and GEM_CREATE_EXT: new shmem objects and the create extension chain.

Sizes are rounded up to the page size in 64-bit arithmetic, so a size within a page of 2**64
wraps to 0 and is EINVAL like a zero size; anything above the largest shmem file is E2BIG.
Nothing is allocated at creation: a 1 TiB object is created fine and fails only when its
pages are wanted (ENOMEM bigger than RAM, E2BIG beyond 2**32 pages).

The extension chain of CREATE_EXT is walked the way ``i915_user_extensions`` does: each
``struct i915_user_extension {u64 next_extension; u32 name; u32 flags; u32 rsvd[4]}`` is read
field by field (flags and rsvd must be zero: EINVAL; an unreadable field: EFAULT), the named
handler runs, then ``next_extension`` is followed; more than 512 links is E2BIG.  What an
integrated gen9 part accepts:

=====================  ============================================================================
extension              accepted / refused
=====================  ============================================================================
MEMORY_REGIONS (0)     exactly the system region ``{class 0, instance 0}``; pad != 0, no regions,
                       more than 7, an unknown or private (stolen) region, a duplicate, or a
                       second MEMORY_REGIONS extension: EINVAL; unreadable region array: EFAULT
PROTECTED_CONTENT (1)  flags != 0: EINVAL; otherwise ENODEV (no PXP on this part)
SET_PAT (2)            pat_index 0..3 (the gen9 PAT table); above: EINVAL
anything else          EINVAL
=====================  ============================================================================

The only create flag, NEEDS_CPU_ACCESS, asks for a device-local placement with a system
fallback, which an integrated part cannot have: always EINVAL here (after the chain).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import trace
from ..abi import (
    I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS,
    I915_GEM_CREATE_EXT_MEMORY_REGIONS,
    I915_GEM_CREATE_EXT_PROTECTED_CONTENT,
)
from ..errors import E2BIG, EINVAL, ENODEV
from ..units import PAGE_SIZE
from .device import GemDevice
from .file import DrmFile
from .object import CACHING_CACHED, CACHING_NONE, GemObject
from .shmem import shmem_create

__all__ = [
    "ReadUser",
    "gem_create",
    "gem_create_ext",
    "I915_GEM_CREATE_EXT_MEMORY_REGIONS",
    "I915_GEM_CREATE_EXT_PROTECTED_CONTENT",
    "I915_GEM_CREATE_EXT_SET_PAT",
    "I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS",
]

I915_GEM_CREATE_EXT_SET_PAT = 2

_U64 = (1 << 64) - 1
_MAX_EXTENSIONS = 512            # i915_user_extensions' stack depth
_NR_REGION_IDS = 7               # INTEL_REGION_UNKNOWN: smem, lmem0-3, stolen smem/lmem
_MEMORY_CLASS_SYSTEM = 0
_MEMORY_CLASS_STOLEN_SYSTEM = 2  # INTEL_MEMORY_STOLEN_SYSTEM: exists but private
_MAX_PAT_INDEX_GEN9 = 3
# gen9's legacy PAT table: index -> the caching mode it amounts to (NONE, LLC, L3_LLC, WT).
_PAT_CACHING = (CACHING_NONE, CACHING_CACHED, CACHING_CACHED, 2)

# struct layouts (offsets within the extension): i915_user_extension is 32 bytes.
_EXT_NEXT, _EXT_NAME, _EXT_FLAGS, _EXT_RSVD = 0, 8, 12, 16
_EXT_HDR = 32

ReadUser = Callable[[int, int], bytes]
"""``read_user(addr, n)``: copy_from_user in the calling process (raises EFAULT)."""


@dataclass(slots=True)
class _ExtData:
    """What the extension handlers collect (``struct create_ext``)."""

    regions: list[tuple[int, int]] = field(default_factory=list)
    protected: bool = False
    pat_index: int | None = None


def _u32(read_user: ReadUser, addr: int) -> int:
    return int(struct.unpack("<I", read_user(addr, 4))[0])


def _u64(read_user: ReadUser, addr: int) -> int:
    return int(struct.unpack("<Q", read_user(addr, 8))[0])


def round_size(size: int) -> int:
    """``round_up(size, PAGE_SIZE)`` in u64 arithmetic (wraps to 0 near 2**64)."""
    return ((size & _U64) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) & _U64


def _create_user(dev: GemDevice, size: int) -> GemObject:
    """``__i915_gem_object_create_user_ext`` for the system region."""
    size = round_size(size)
    if size == 0:
        raise EINVAL("object size 0 (after rounding)")
    return shmem_create(dev, size)


def _publish(file: DrmFile, obj: GemObject) -> tuple[int, int]:
    """Give the new object a handle; the handle holds it from now on (``i915_gem_publish``)."""
    size = obj.size
    try:
        handle = file.handle_create(obj)
    finally:
        obj.put()
    return handle, size


def gem_create(dev: GemDevice, file: DrmFile, size: int) -> tuple[int, int]:
    """I915_GEM_CREATE: a new shmem object; returns ``(handle, size rounded to pages)``.

    Raises EINVAL for a size that rounds to 0, E2BIG above the largest shmem file.
    """
    handle, size = _publish(file, _create_user(dev, size))
    if trace.enabled:
        trace.emit("gem", "gem_create", handle=handle, size=size)
    return handle, size


# -- CREATE_EXT --------------------------------------------------------------------------------------
def _ext_memory_regions(read_user: ReadUser, base: int, data: _ExtData) -> None:
    raw = read_user(base, 48)   # sizeof(drm_i915_gem_create_ext_memory_regions)
    pad, num, regions = struct.unpack_from("<IIQ", raw, _EXT_HDR)
    if pad or not num or num > _NR_REGION_IDS:
        raise EINVAL(f"memory regions: pad {pad} num_regions {num}")
    seen: list[tuple[int, int]] = []
    for i in range(num):
        mclass, instance = struct.unpack("<HH", read_user(regions + 4 * i, 4))
        if (mclass, instance) != (_MEMORY_CLASS_SYSTEM, 0):
            # Unknown, or the stolen region (class 2) that exists but is private: both EINVAL.
            raise EINVAL(f"no usable region {{class {mclass}, instance {instance}}}")
        if (mclass, instance) in seen:
            raise EINVAL(f"duplicate region {{class {mclass}, instance {instance}}}")
        seen.append((mclass, instance))
    if data.regions:
        raise EINVAL("placements already set by a previous extension")
    data.regions = seen


def _ext_protected(read_user: ReadUser, base: int, data: _ExtData) -> None:
    raw = read_user(base, 40)   # sizeof(drm_i915_gem_create_ext_protected_content)
    (flags,) = struct.unpack_from("<I", raw, _EXT_HDR)
    if flags:
        raise EINVAL(f"protected content flags {flags:#x}")
    raise ENODEV("no PXP on this platform")


def _ext_set_pat(read_user: ReadUser, base: int, data: _ExtData) -> None:
    raw = read_user(base, 40)   # sizeof(drm_i915_gem_create_ext_set_pat)
    (pat_index,) = struct.unpack_from("<I", raw, _EXT_HDR)
    if pat_index > _MAX_PAT_INDEX_GEN9:
        raise EINVAL(f"PAT index {pat_index}")
    data.pat_index = pat_index


_EXTENSIONS: tuple[Callable[[ReadUser, int, _ExtData], None], ...] = (
    _ext_memory_regions,
    _ext_protected,
    _ext_set_pat,
)


def _check_mbz(read_user: ReadUser, addr: int) -> None:
    if _u32(read_user, addr):
        raise EINVAL(f"must-be-zero field at {addr:#x}")


def _walk_extensions(read_user: ReadUser, ext: int, data: _ExtData) -> None:
    """``i915_user_extensions``: run each extension's handler, in chain order."""
    depth = _MAX_EXTENSIONS
    while ext:
        if not depth:
            raise E2BIG("extension chain too long")
        depth -= 1
        _check_mbz(read_user, ext + _EXT_FLAGS)
        for i in range(4):
            _check_mbz(read_user, ext + _EXT_RSVD + 4 * i)
        name = _u32(read_user, ext + _EXT_NAME)
        if name >= len(_EXTENSIONS):
            raise EINVAL(f"unknown create extension {name}")
        _EXTENSIONS[name](read_user, ext, data)
        ext = _u64(read_user, ext + _EXT_NEXT)


def gem_create_ext(dev: GemDevice, file: DrmFile, size: int, flags: int, extensions: int,
                   read_user: ReadUser) -> tuple[int, int]:
    """I915_GEM_CREATE_EXT: like GEM_CREATE, with flags and an extension chain.

    Raises EINVAL for unknown flags (first), then whatever the chain raises (see the module
    table; EFAULT for an unreadable link), then EINVAL for NEEDS_CPU_ACCESS, then the size
    errors of :func:`gem_create`.
    """
    if flags & ~I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS:
        raise EINVAL(f"create_ext flags {flags:#x}")
    data = _ExtData()
    _walk_extensions(read_user, extensions, data)
    if flags & I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS:
        # Needs more than one placement, one of them system memory: never on integrated.
        raise EINVAL("NEEDS_CPU_ACCESS without a device-local placement")
    obj = _create_user(dev, size)
    if data.pat_index is not None:
        set_pat_index(obj, data.pat_index)
    handle, size = _publish(file, obj)
    if trace.enabled:
        trace.emit("gem", "gem_create_ext", handle=handle, size=size, pat=data.pat_index)
    return handle, size


def set_pat_index(obj: GemObject, pat_index: int) -> None:
    """Record a user-chosen PAT index: SET/GET_CACHING refuse such an object (EOPNOTSUPP)."""
    obj.cache_level = _PAT_CACHING[pat_index]
    obj.pat_index = pat_index
    obj.pat_set_by_user = True


def pat_set_by_user(obj: GemObject) -> bool:
    return obj.pat_set_by_user
