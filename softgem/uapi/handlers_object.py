"""GEM object ioctls: the DRM core's (CLOSE, FLINK, OPEN, PRIME) and i915's object calls.

Each handler only decodes its struct, calls the ``softgem.gem`` function that implements the
ioctl body (which raises the kernel's errnos in the kernel's order) and writes the results
back into the struct.  Nested user pointers (``data_ptr`` of PREAD/PWRITE, the CREATE_EXT
extension chain) are handed down with the caller's address space.

Write-back on failure mirrors the kernel where it is observable: WAIT reports a remaining
timeout of 0 after ETIME; every other handler here writes its outputs only on success, as the
kernel functions do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..abi import drm as D
from ..abi import i915 as I
from ..errors import ETIME
from ..gem import aperture_info, create, domain, flink, prime, rw, shrinker, tiling, wait
from .usercopy import copy_from_user

if TYPE_CHECKING:
    from .context import IoctlContext

__all__ = [
    "gem_busy", "gem_close", "gem_create", "gem_create_ext", "gem_flink", "gem_madvise",
    "gem_open", "gem_pread", "gem_pwrite", "gem_wait", "get_aperture", "get_caching",
    "get_tiling", "prime_fd_to_handle", "prime_handle_to_fd", "set_caching", "set_domain",
    "set_tiling", "sw_finish",
]


# -- DRM core --------------------------------------------------------------------------------
def gem_close(ctx: IoctlContext, args: D.drm_gem_close) -> int:
    """GEM_CLOSE: ``pad`` is not checked (drm_gem_close_ioctl never looked at it)."""
    ctx.file.handle_delete(args.handle)
    return 0


def gem_flink(ctx: IoctlContext, args: D.drm_gem_flink) -> int:
    args.name = flink.flink(ctx.dev, ctx.file, args.handle)
    return 0


def gem_open(ctx: IoctlContext, args: D.drm_gem_open) -> int:
    args.handle, args.size = flink.gem_open(ctx.dev, ctx.file, args.name)
    return 0


def prime_handle_to_fd(ctx: IoctlContext, args: D.drm_prime_handle) -> int:
    args.fd = prime.handle_to_fd(ctx.dev, ctx.file, args.handle, args.flags,
                                 ctx.task.fd_install)
    return 0


def prime_fd_to_handle(ctx: IoctlContext, args: D.drm_prime_handle) -> int:
    args.handle = prime.fd_to_handle(ctx.dev, ctx.file, args.fd, ctx.task.fd_get,
                                     ctx.task.fd_put)
    return 0


# -- creation --------------------------------------------------------------------------------
def gem_create(ctx: IoctlContext, args: I.drm_i915_gem_create) -> int:
    args.handle, args.size = create.gem_create(ctx.dev, ctx.file, args.size)
    return 0


def gem_create_ext(ctx: IoctlContext, args: I.drm_i915_gem_create_ext) -> int:
    mm = ctx.mm
    args.handle, args.size = create.gem_create_ext(
        ctx.dev, ctx.file, args.size, args.flags, args.extensions,
        lambda addr, n: copy_from_user(mm, addr, n))
    return 0


# -- domains, caching, tiling ------------------------------------------------------------------
def set_domain(ctx: IoctlContext, args: I.drm_i915_gem_set_domain) -> int:
    domain.set_domain(ctx.dev, ctx.file, ctx.mm, args.handle, args.read_domains,
                      args.write_domain)
    return 0


def sw_finish(ctx: IoctlContext, args: I.drm_i915_gem_sw_finish) -> int:
    domain.sw_finish(ctx.dev, ctx.file, args.handle)
    return 0


def set_caching(ctx: IoctlContext, args: I.drm_i915_gem_caching) -> int:
    domain.set_caching(ctx.dev, ctx.file, args.handle, args.caching)
    return 0


def get_caching(ctx: IoctlContext, args: I.drm_i915_gem_caching) -> int:
    args.caching = domain.get_caching(ctx.dev, ctx.file, args.handle)
    return 0


def set_tiling(ctx: IoctlContext, args: I.drm_i915_gem_set_tiling) -> int:
    res = tiling.set_tiling(ctx.dev, ctx.file, args.handle, args.tiling_mode, args.stride)
    args.tiling_mode, args.stride, args.swizzle_mode = (res.tiling_mode, res.stride,
                                                        res.swizzle_mode)
    return 0


def get_tiling(ctx: IoctlContext, args: I.drm_i915_gem_get_tiling) -> int:
    args.tiling_mode, args.swizzle_mode, args.phys_swizzle_mode = tiling.get_tiling(
        ctx.dev, ctx.file, args.handle)
    return 0


# -- data, state ---------------------------------------------------------------------------------
def gem_pread(ctx: IoctlContext, args: I.drm_i915_gem_pread) -> int:
    rw.pread(ctx.dev, ctx.file, ctx.mm, args.handle, args.offset, args.size, args.data_ptr)
    return 0


def gem_pwrite(ctx: IoctlContext, args: I.drm_i915_gem_pwrite) -> int:
    rw.pwrite(ctx.dev, ctx.file, ctx.mm, args.handle, args.offset, args.size, args.data_ptr)
    return 0


def gem_madvise(ctx: IoctlContext, args: I.drm_i915_gem_madvise) -> int:
    args.retained = int(shrinker.madvise(ctx.dev, ctx.file, args.handle, args.madv))
    return 0


def gem_busy(ctx: IoctlContext, args: I.drm_i915_gem_busy) -> int:
    args.busy = wait.busy(ctx.dev, ctx.file, args.handle)
    return 0


def gem_wait(ctx: IoctlContext, args: I.drm_i915_gem_wait) -> int:
    try:
        args.timeout_ns = wait.wait(ctx.dev, ctx.file, args.bo_handle, args.flags,
                                    args.timeout_ns)
    except ETIME:
        if args.timeout_ns > 0:
            args.timeout_ns = 0   # the whole timeout was spent
        raise
    return 0


def get_aperture(ctx: IoctlContext, args: I.drm_i915_gem_get_aperture) -> int:
    args.aper_size, args.aper_available_size = aperture_info.get_aperture(ctx.dev)
    return 0
