"""I915_GEM_USERPTR: wrap a range of the caller's own memory in a GEM object.

The whole creation ladder (semantics.md section 1: ENODEV, EINVAL, E2BIG, EINVAL, EINVAL,
EFAULT, ENODEV, ENODEV, EFAULT, then notifier/handle errors) lives in
:func:`softgem.gem.userptr.check_create_args`, called by the device's userptr design
(``dev.userptr_design.userptr_create``); this handler passes it the *caller's* address
space, which becomes the object's one and only address space.  The handle is written back
only on success: no handle is produced by a failed call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..abi import drm_i915_gem_userptr
    from .context import IoctlContext

__all__ = ["gem_userptr"]


def gem_userptr(ctx: IoctlContext, args: drm_i915_gem_userptr) -> int:
    design = ctx.dev.userptr_design
    args.handle = design.userptr_create(ctx.dev, ctx.file, ctx.mm, args.user_ptr,
                                        args.user_size, args.flags)
    return 0
