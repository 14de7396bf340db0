"""MMAP_OFFSET (and its legacy MMAP_GTT form) and the legacy CPU GEM_MMAP.

MMAP_OFFSET's order (``i915_gem_mmap_offset_ioctl``): ``pad`` and the input ``offset`` are
never checked (old userspace passes garbage there); a non-zero ``extensions`` pointer is walked
with ``i915_user_extensions`` and an empty table -- EFAULT when the header cannot be read,
EINVAL otherwise, since no MMAP_OFFSET extension is defined; then the type switch, the platform
checks, the lookup and the node assignment, all in :func:`softgem.gem.mman.mmap_offset`.

The legacy ``DRM_IOCTL_I915_GEM_MMAP_GTT`` request reaches this same handler: the dispatcher
zero-extends its 16-byte argument, so ``flags`` reads 0 = I915_MMAP_OFFSET_GTT and
``extensions`` 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..abi import i915_user_extension
from ..errors import EINVAL
from ..gem import mman
from .usercopy import copy_from_user

if TYPE_CHECKING:
    from ..abi import drm_i915_gem_mmap, drm_i915_gem_mmap_offset
    from .context import IoctlContext

__all__ = ["gem_mmap", "gem_mmap_offset", "user_extensions_none"]

_EXT = i915_user_extension


def _get_u32(ctx: IoctlContext, addr: int) -> int:
    return int.from_bytes(copy_from_user(ctx.mm, addr, 4), "little")


def _check_mbz(ctx: IoctlContext, addr: int) -> None:
    """``check_user_mbz``: EFAULT when unreadable, EINVAL when not zero."""
    if _get_u32(ctx, addr):
        raise EINVAL(f"non-zero reserved field at {addr:#x}")


def user_extensions_none(ctx: IoctlContext, ext: int) -> None:
    """``i915_user_extensions(ext, NULL, 0, NULL)``: any extension at all is refused.

    The header is read field by field in the kernel's order (flags, rsvd[0..3], name), so a
    header straddling an unmapped page gives EFAULT or EINVAL exactly where the kernel would.
    """
    if not ext:
        return
    _check_mbz(ctx, ext + _EXT.flags.offset)
    for i in range(4):
        _check_mbz(ctx, ext + _EXT.rsvd.offset + 4 * i)
    name = _get_u32(ctx, ext + _EXT.name.offset)
    # name >= count (0): no handler for any extension name.
    raise EINVAL(f"no MMAP_OFFSET extension {name} exists")


def gem_mmap_offset(ctx: IoctlContext, args: drm_i915_gem_mmap_offset) -> int:
    user_extensions_none(ctx, args.extensions)
    args.offset = mman.mmap_offset(ctx.dev, ctx.file, args.handle, args.flags)
    return 0


def gem_mmap(ctx: IoctlContext, args: drm_i915_gem_mmap) -> int:
    """Legacy GEM_MMAP: map the object's shmem pages into the caller; returns the address."""
    args.addr_ptr = mman.legacy_mmap(ctx.dev, ctx.file, ctx.mm, args.handle, args.offset,
                                     args.size, args.flags)
    return 0

