"""A few IGT-style calls for scenarios: objects, userptrs, and a store-dword execbuf.

Everything goes through ``proc.ioctl`` with the uapi structs, as a C test would; the exec
object and relocation arrays live in the process's memory (a scratch mapping per call).
"""

from __future__ import annotations

import ctypes
import errno
import struct

from .. import igt, uapi
from ..machine import Process
from ..posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE

__all__ = ["ANON", "RW", "Gem"]

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
_MI_STORE_DWORD_IMM = (0x20 << 23) | 2
_BBE = 0x0A << 23
_BATCH_AT = 16 << 20
_TARGET_AT = _BATCH_AT + (1 << 20)


class Gem:
    """One process with the i915 open."""

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.fd = igt.drm_open_driver(proc)

    def create(self, size: int, data: bytes = b"") -> int:
        handle = igt.gem_create(self.proc, self.fd, size)
        if data:
            igt.gem_write(self.proc, self.fd, handle, 0, data)
        return handle

    def userptr(self, ptr: int, size: int, flags: int = 0) -> int:
        return igt.gem_userptr(self.proc, self.fd, ptr, size, flags)

    def close(self, handle: int) -> None:
        igt.gem_close(self.proc, self.fd, handle)

    def wait(self, handle: int) -> int:
        """GEM_WAIT with an infinite timeout: 0 or -errno."""
        try:
            self.proc.ioctl(self.fd, uapi.DRM_IOCTL_I915_GEM_WAIT,
                            uapi.drm_i915_gem_wait(bo_handle=handle, timeout_ns=-1))
            return 0
        except OSError as e:
            return -(e.errno or errno.EIO)

    def store(self, target: int, value: int, *, wait: bool = True, retry: bool = True) -> int:
        """EXECBUFFER2 of MI_STORE_DWORD_IMM writing ``value`` at offset 0 of ``target``
        (relocated); 0 or -errno (``retry``: loop on EAGAIN/EINTR as drmIoctl does)."""
        words = [_MI_STORE_DWORD_IMM, _TARGET_AT & 0xFFFFFFFF, _TARGET_AT >> 32, value, _BBE, 0]
        batch = self.create(4096, struct.pack("<6I", *(w & 0xFFFFFFFF for w in words)))
        flags48 = uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS
        objs = [uapi.drm_i915_gem_exec_object2(handle=target, offset=_TARGET_AT,
                                               flags=flags48 | uapi.EXEC_OBJECT_WRITE),
                uapi.drm_i915_gem_exec_object2(handle=batch, offset=_BATCH_AT, flags=flags48)]
        rel = uapi.drm_i915_gem_relocation_entry(
            target_handle=target, offset=4, presumed_offset=_TARGET_AT,
            read_domains=uapi.I915_GEM_DOMAIN_RENDER, write_domain=uapi.I915_GEM_DOMAIN_RENDER)
        osz = ctypes.sizeof(uapi.drm_i915_gem_exec_object2)
        buf = self.proc.mmap(0, 4096, RW, ANON)
        try:
            rel_at = buf + 2 * osz
            self.proc.write(rel_at, bytes(rel))
            objs[1].relocs_ptr, objs[1].relocation_count = rel_at, 1
            self.proc.write(buf, b"".join(bytes(o) for o in objs))
            eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=buf, buffer_count=2,
                                               flags=uapi.I915_EXEC_BLT)
            err = self._ioctl(uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, eb, retry)
        finally:
            self.proc.munmap(buf, 4096)
        if err == 0 and wait:
            err = self.wait(batch)
        self.close(batch)
        return err

    def _ioctl(self, request: int, arg: ctypes.Structure, retry: bool) -> int:
        while True:
            try:
                self.proc.ioctl(self.fd, request, arg)
                return 0
            except OSError as e:
                if retry and e.errno in (errno.EAGAIN, errno.EINTR):
                    continue
                return -(e.errno or errno.EIO)
