"""IGT-style helpers over ``proc.ioctl``: the vocabulary of ``lib/ioctl_wrappers.c``.

Every helper goes through :meth:`softgem.Process.ioctl` with the uapi structs, never around
it, so what they exercise is exactly what a C test would.  Conventions, as in IGT:

* ``name(...)`` asserts success: a failing ioctl raises ``OSError`` (with ``errno``);
* ``__name(...)`` is the raw form: it returns ``0`` or ``-errno`` (IGT's ``-errno``, so
  ``assert __gem_set_domain(...) == -errno.EFAULT`` reads like the C original); the raw forms
  that also produce a value return ``(err, value)``;
* every ioctl is issued the way libdrm's ``drmIoctl`` does: retried for as long as it fails
  with EINTR or EAGAIN (a userptr submission that collided with an invalidation, for example).
  Like ``drmIoctl`` the retry is unbounded.

Helpers that need a user buffer (``gem_getparam``'s ``int *value``, ``gem_read``/``gem_write``
data) map a private anonymous scratch area in ``proc`` for the duration of the call and unmap
it afterwards; that unmap is an ordinary munmap of a range nobody else uses, so it invalidates
nothing but its own pages.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from . import uapi
from .posix import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from .units import page_align

if TYPE_CHECKING:
    from .machine import Process

__all__ = [
    "CARD0", "RENDER_NODE",
    "__gem_set_domain", "__gem_set_tiling", "__gem_userptr",
    "do_ioctl", "drm_open_driver", "drm_open_driver_render",
    "gem_close", "gem_create", "gem_get_tiling", "gem_getparam", "gem_mmap__gtt",
    "gem_mmap__wb", "gem_mmap__wc", "gem_mmap_offset", "gem_read", "gem_set_domain",
    "gem_set_tiling", "gem_userptr", "gem_write", "igt_ioctl",
]

CARD0 = "/dev/dri/card0"
RENDER_NODE = "/dev/dri/renderD128"
_RETRY = (errno.EINTR, errno.EAGAIN)
_RW = PROT_READ | PROT_WRITE


def igt_ioctl(proc: Process, fd: int, request: int, arg: Any) -> int:
    """``drmIoctl``: the ioctl, repeated while it fails with EINTR or EAGAIN."""
    while True:
        try:
            return proc.ioctl(fd, request, arg)
        except OSError as err:
            if err.errno not in _RETRY:
                raise


def do_ioctl(proc: Process, fd: int, request: int, arg: Any) -> int:
    """IGT's ``do_ioctl``: the ioctl must succeed (OSError otherwise)."""
    return igt_ioctl(proc, fd, request, arg)


def _raw(proc: Process, fd: int, request: int, arg: Any) -> int:
    """0, or ``-errno`` of the failure."""
    try:
        igt_ioctl(proc, fd, request, arg)
    except OSError as err:
        return -(err.errno or errno.EIO)
    return 0


@contextmanager
def _scratch(proc: Process, size: int) -> Iterator[int]:
    """A private anonymous user buffer of at least ``size`` bytes, unmapped afterwards."""
    length = page_align(max(size, 1))
    addr = proc.mmap(0, length, _RW, MAP_PRIVATE | MAP_ANONYMOUS)
    try:
        yield addr
    finally:
        proc.munmap(addr, length)


# -- opening -------------------------------------------------------------------------------------
def _is_i915(proc: Process, fd: int) -> bool:
    with _scratch(proc, 16) as buf:
        v = uapi.drm_version(name_len=16, name=buf)
        do_ioctl(proc, fd, uapi.DRM_IOCTL_VERSION, v)
        return proc.read(buf, min(v.name_len, 16)) == b"i915"


def drm_open_driver(proc: Process) -> int:
    """Open the primary node and check that it is an i915 (OSError ENODEV otherwise)."""
    return _open_i915(proc, CARD0)


def drm_open_driver_render(proc: Process) -> int:
    """Open the render node and check that it is an i915."""
    return _open_i915(proc, RENDER_NODE)


def _open_i915(proc: Process, path: str) -> int:
    fd = proc.open(path)
    if not _is_i915(proc, fd):
        proc.close(fd)
        raise OSError(errno.ENODEV, f"{path} is not an i915")
    return fd


# -- objects ---------------------------------------------------------------------------------------
def gem_create(proc: Process, fd: int, size: int) -> int:
    """A new shmem object of ``size`` bytes (rounded up to pages); its handle."""
    create = uapi.drm_i915_gem_create(size=size)
    do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GEM_CREATE, create)
    return int(create.handle)


def gem_close(proc: Process, fd: int, handle: int) -> None:
    do_ioctl(proc, fd, uapi.DRM_IOCTL_GEM_CLOSE, uapi.drm_gem_close(handle=handle))


def __gem_userptr(proc: Process, fd: int, ptr: int, size: int,
                  flags: int = 0) -> tuple[int, int]:
    """Raw GEM_USERPTR: ``(0, handle)`` or ``(-errno, 0)``."""
    arg = uapi.drm_i915_gem_userptr(user_ptr=ptr, user_size=size, flags=flags)
    err = _raw(proc, fd, uapi.DRM_IOCTL_I915_GEM_USERPTR, arg)
    return err, (int(arg.handle) if err == 0 else 0)


def gem_userptr(proc: Process, fd: int, ptr: int, size: int, flags: int = 0) -> int:
    """A userptr object over ``[ptr, ptr + size)`` of ``proc``; its handle."""
    arg = uapi.drm_i915_gem_userptr(user_ptr=ptr, user_size=size, flags=flags)
    do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GEM_USERPTR, arg)
    return int(arg.handle)


def __gem_set_domain(proc: Process, fd: int, handle: int, read: int, write: int) -> int:
    """Raw SET_DOMAIN: 0 or ``-errno`` (the userptr validity probe answers -EFAULT)."""
    arg = uapi.drm_i915_gem_set_domain(handle=handle, read_domains=read, write_domain=write)
    return _raw(proc, fd, uapi.DRM_IOCTL_I915_GEM_SET_DOMAIN, arg)


def gem_set_domain(proc: Process, fd: int, handle: int, read: int, write: int) -> None:
    arg = uapi.drm_i915_gem_set_domain(handle=handle, read_domains=read, write_domain=write)
    do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GEM_SET_DOMAIN, arg)


# -- mappings ----------------------------------------------------------------------------------
def gem_mmap_offset(proc: Process, fd: int, handle: int, mmap_type: int) -> int:
    """The fake offset to pass to ``mmap`` for a mapping of type ``mmap_type``."""
    arg = uapi.drm_i915_gem_mmap_offset(handle=handle, flags=mmap_type)
    do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GEM_MMAP_OFFSET, arg)
    return int(arg.offset)


def _mmap(proc: Process, fd: int, handle: int, size: int, prot: int, mmap_type: int) -> int:
    offset = gem_mmap_offset(proc, fd, handle, mmap_type)
    return proc.mmap(0, size, prot, MAP_SHARED, fd, offset)


def gem_mmap__wb(proc: Process, fd: int, handle: int, size: int, prot: int = _RW) -> int:
    """A write-back CPU mapping of the first ``size`` bytes of the object; its address."""
    return _mmap(proc, fd, handle, size, prot, uapi.I915_MMAP_OFFSET_WB)


def gem_mmap__wc(proc: Process, fd: int, handle: int, size: int, prot: int = _RW) -> int:
    """A write-combining CPU mapping of the object; its address."""
    return _mmap(proc, fd, handle, size, prot, uapi.I915_MMAP_OFFSET_WC)


def gem_mmap__gtt(proc: Process, fd: int, handle: int, size: int, prot: int = _RW) -> int:
    """A mapping through the GGTT aperture (tiling-aware); its address."""
    return _mmap(proc, fd, handle, size, prot, uapi.I915_MMAP_OFFSET_GTT)


# -- data -------------------------------------------------------------------------------------------
def gem_read(proc: Process, fd: int, handle: int, offset: int, length: int) -> bytes:
    """PREAD ``length`` bytes at ``offset`` of the object."""
    with _scratch(proc, length) as buf:
        arg = uapi.drm_i915_gem_pread(handle=handle, offset=offset, size=length, data_ptr=buf)
        do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GEM_PREAD, arg)
        return proc.read(buf, length) if length else b""


def gem_write(proc: Process, fd: int, handle: int, offset: int, data: bytes) -> None:
    """PWRITE ``data`` at ``offset`` of the object."""
    with _scratch(proc, len(data)) as buf:
        if data:
            proc.write(buf, data)
        arg = uapi.drm_i915_gem_pwrite(handle=handle, offset=offset, size=len(data),
                                       data_ptr=buf)
        do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GEM_PWRITE, arg)


# -- tiling --------------------------------------------------------------------------------------
def __gem_set_tiling(proc: Process, fd: int, handle: int, tiling: int, stride: int) -> int:
    arg = uapi.drm_i915_gem_set_tiling(handle=handle, tiling_mode=tiling, stride=stride)
    return _raw(proc, fd, uapi.DRM_IOCTL_I915_GEM_SET_TILING, arg)


def gem_set_tiling(proc: Process, fd: int, handle: int, tiling: int, stride: int) -> None:
    arg = uapi.drm_i915_gem_set_tiling(handle=handle, tiling_mode=tiling, stride=stride)
    do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GEM_SET_TILING, arg)


def gem_get_tiling(proc: Process, fd: int, handle: int) -> tuple[int, int]:
    """``(tiling_mode, swizzle_mode)`` of the object."""
    arg = uapi.drm_i915_gem_get_tiling(handle=handle)
    do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GEM_GET_TILING, arg)
    return int(arg.tiling_mode), int(arg.swizzle_mode)


# -- parameters -----------------------------------------------------------------------------------
def gem_getparam(proc: Process, fd: int, param: int) -> int:
    """I915_GETPARAM's answer for ``param``.

    The kernel writes the answer through an ``int *``, so the value travels through a scratch
    page mapped in ``proc`` for the call and unmapped afterwards.
    """
    with _scratch(proc, 4) as buf:
        do_ioctl(proc, fd, uapi.DRM_IOCTL_I915_GETPARAM,
                 uapi.drm_i915_getparam(param=param, value=buf))
        return int.from_bytes(proc.read(buf, 4), "little", signed=True)
