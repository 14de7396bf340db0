"""IGT's lib/igt_syncobj.c helpers over ``proc.ioctl``: each returns its result, or
``-errno`` for the double-underscore variants, as IGT's do."""

from __future__ import annotations

import ctypes
import struct
import time
from collections.abc import Sequence

import softgem
from softgem import uapi
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE

__all__ = ["Sync", "gettime_ns"]


def gettime_ns() -> int:
    return time.monotonic_ns()


class Sync:
    """Syncobj calls on one drm fd of one process, arrays in a scratch page of its own."""

    def __init__(self, proc: softgem.Process, fd: int) -> None:
        self.proc, self.fd = proc, fd
        self.page = proc.mmap(0, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)

    def ioctl(self, request: int, arg: ctypes.Structure) -> int:
        try:
            self.proc.ioctl(self.fd, request, arg)
            return 0
        except OSError as e:
            return -(e.errno or 0)

    def _u32s(self, values: Sequence[int], at: int = 0) -> int:
        self.proc.write(self.page + at, struct.pack(f"<{len(values)}I", *values))
        return self.page + at

    def _u64s(self, values: Sequence[int], at: int = 0x8000) -> int:
        self.proc.write(self.page + at, struct.pack(f"<{len(values)}Q", *values))
        return self.page + at

    def read_u64s(self, n: int, at: int = 0x8000) -> list[int]:
        return list(struct.unpack(f"<{n}Q", self.proc.read(self.page + at, 8 * n)))

    # -- create / destroy / fds ----------------------------------------------------------------
    def create(self, flags: int = 0) -> int:
        arg = uapi.drm_syncobj_create(flags=flags)
        assert self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_CREATE, arg) == 0
        return int(arg.handle)

    def create_raw(self, flags: int) -> int:
        return self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_CREATE, uapi.drm_syncobj_create(flags=flags))

    def destroy(self, handle: int, pad: int = 0) -> int:
        return self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_DESTROY,
                          uapi.drm_syncobj_destroy(handle=handle, pad=pad))

    def handle_to_fd(self, handle: int, flags: int = 0, pad: int = 0) -> int:
        arg = uapi.drm_syncobj_handle(handle=handle, flags=flags, pad=pad, fd=-1)
        err = self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, arg)
        return err if err else int(arg.fd)

    def fd_to_handle(self, fd: int, flags: int = 0, handle: int = 0, pad: int = 0) -> int:
        arg = uapi.drm_syncobj_handle(fd=fd, flags=flags, handle=handle, pad=pad)
        err = self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, arg)
        return err if err else int(arg.handle)

    def export_sync_file(self, handle: int) -> int:
        return self.handle_to_fd(handle, uapi.DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE)

    def import_sync_file(self, handle: int, fd: int) -> int:
        """0 or -errno."""
        arg = uapi.drm_syncobj_handle(
            fd=fd, handle=handle, flags=uapi.DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE)
        return self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, arg)

    # -- waits -----------------------------------------------------------------------------------
    def wait(self, handles: Sequence[int], timeout_nsec: int = 0, flags: int = 0,
             count: int | None = None) -> tuple[int, int]:
        """(0 or -errno, first_signaled)."""
        arg = uapi.drm_syncobj_wait(handles=self._u32s(handles), timeout_nsec=timeout_nsec,
                                    count_handles=len(handles) if count is None else count,
                                    flags=flags, first_signaled=0xFFFFFFFF)
        return self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_WAIT, arg), int(arg.first_signaled)

    def timeline_wait(self, handles: Sequence[int], points: Sequence[int],
                      timeout_nsec: int = 0, flags: int = 0) -> tuple[int, int]:
        arg = uapi.drm_syncobj_timeline_wait(
            handles=self._u32s(handles), points=self._u64s(points), timeout_nsec=timeout_nsec,
            count_handles=len(handles), flags=flags, first_signaled=0xFFFFFFFF)
        return self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, arg), int(arg.first_signaled)

    def _array(self, request: int, handles: Sequence[int], pad: int = 0) -> int:
        arg = uapi.drm_syncobj_array(handles=self._u32s(handles), count_handles=len(handles),
                                     pad=pad)
        return self.ioctl(request, arg)

    def reset(self, handles: Sequence[int], pad: int = 0) -> int:
        return self._array(uapi.DRM_IOCTL_SYNCOBJ_RESET, handles, pad)

    def signal(self, handles: Sequence[int], pad: int = 0) -> int:
        return self._array(uapi.DRM_IOCTL_SYNCOBJ_SIGNAL, handles, pad)

    def timeline_signal(self, handles: Sequence[int], points: Sequence[int],
                        flags: int = 0) -> int:
        arg = uapi.drm_syncobj_timeline_array(handles=self._u32s(handles),
                                              points=self._u64s(points),
                                              count_handles=len(handles), flags=flags)
        return self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, arg)

    def query(self, handles: Sequence[int], flags: int = 0) -> list[int] | int:
        arg = uapi.drm_syncobj_timeline_array(handles=self._u32s(handles),
                                              points=self._u64s([0] * len(handles)),
                                              count_handles=len(handles), flags=flags)
        err = self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_QUERY, arg)
        return err if err else self.read_u64s(len(handles))

    def transfer(self, dst: int, dst_point: int, src: int, src_point: int,
                 flags: int = 0) -> int:
        arg = uapi.drm_syncobj_transfer(src_handle=src, dst_handle=dst, src_point=src_point,
                                        dst_point=dst_point, flags=flags)
        return self.ioctl(uapi.DRM_IOCTL_SYNCOBJ_TRANSFER, arg)
