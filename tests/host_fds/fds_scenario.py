"""The fds_client.c scenario, step for step, in the simulated machine."""

from __future__ import annotations

import struct
import time

from c_steps import ioctl_ret

from softgem import Machine, uapi
from softgem.gpu.sync_file import SyncFile
from softgem.machine import Process
from softgem.machine.files import FileBase
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE

BBE = struct.pack("<II", 0xA << 23, 0)


class _Client:
    def __init__(self, p: Process) -> None:
        self.p = p
        self.buf = p.mmap(0, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)

    def create(self, fd: int) -> tuple[int, int]:
        c = uapi.drm_i915_gem_create(size=4096)
        return ioctl_ret(self.p, fd, uapi.DRM_IOCTL_I915_GEM_CREATE, c), int(c.handle)

    def pwrite(self, fd: int, h: int, data: bytes) -> int:
        self.p.write(self.buf, data)
        return ioctl_ret(self.p, fd, uapi.DRM_IOCTL_I915_GEM_PWRITE, uapi.drm_i915_gem_pwrite(
            handle=h, size=len(data), data_ptr=self.buf))

    def reads_abcd(self, fd: int, h: int) -> int:
        self.p.write(self.buf + 64, bytes(4))
        r = ioctl_ret(self.p, fd, uapi.DRM_IOCTL_I915_GEM_PREAD, uapi.drm_i915_gem_pread(
            handle=h, size=4, data_ptr=self.buf + 64))
        return r if r else int(self.p.read(self.buf + 64, 4) == b"abcd")

    def to_fd(self, fd: int, h: int, flags: int) -> tuple[int, int]:
        a = uapi.drm_prime_handle(handle=h, flags=flags, fd=-1)
        return ioctl_ret(self.p, fd, uapi.DRM_IOCTL_PRIME_HANDLE_TO_FD, a), int(a.fd)

    def to_handle(self, fd: int, dmafd: int) -> tuple[int, int]:
        a = uapi.drm_prime_handle(fd=dmafd)
        return ioctl_ret(self.p, fd, uapi.DRM_IOCTL_PRIME_FD_TO_HANDLE, a), int(a.handle)

    def close_handle(self, fd: int, h: int) -> int:
        return ioctl_ret(self.p, fd, uapi.DRM_IOCTL_GEM_CLOSE, uapi.drm_gem_close(handle=h))

    def execbuf(self, fd: int, batch: int, flags: int, rsvd2: int = 0, cliprects: int = 0,
                ncliprects: int = 0) -> tuple[int, int]:
        obj = uapi.drm_i915_gem_exec_object2(handle=batch)
        self.p.write(self.buf + 128, bytes(obj))
        eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=self.buf + 128, buffer_count=1,
                                           flags=flags, rsvd2=rsvd2, cliprects_ptr=cliprects,
                                           num_cliprects=ncliprects)
        r = ioctl_ret(self.p, fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2_WR, eb)
        return r, -1 if r else int(eb.rsvd2 >> 32)

    def polled(self, fd: int) -> int:
        sf = self.p.file(fd)
        assert isinstance(sf, SyncFile)
        return int(sf.wait(5.0) and sf.poll())

    def u32s(self, at: int, *values: int) -> int:
        self.p.write(self.buf + at, struct.pack(f"<{len(values)}I", *values))
        return self.buf + at


def play(machine: Machine) -> dict[str, int]:
    """The C program's steps in order; every step's results by name (0 or an errno)."""
    p = machine.spawn("client")
    c = _Client(p)
    s: dict[str, int] = {}
    fd, fd2 = p.open("/dev/dri/card0"), p.open("/dev/dri/renderD128")
    s["open"] = 0
    h, dmafd, h_other = _dmabuf(c, fd, fd2, s)
    _dmabuf_in_children(c, fd, dmafd, s)
    _dmabuf_lifetime(c, fd, fd2, h, h_other, dmafd, s)
    batch = _sync_files(c, fd, fd2, h, s)
    _syncobjs(c, fd, fd2, batch, s)
    p.exit()
    return s


def _dmabuf(c: _Client, fd: int, fd2: int, s: dict[str, int]) -> tuple[int, int, int]:
    """PRIME export with bad and good flags, DMA_BUF_IOCTL_SYNC, imports into both files."""
    p = c.p
    s["create"], h = c.create(fd)
    s["pwrite"] = c.pwrite(fd, h, b"abcd")
    s["export_bad_flags"], _ = c.to_fd(fd, h, 0x1)
    s["export_bad_handle"], _ = c.to_fd(fd, 999, uapi.DRM_CLOEXEC)
    s["export"], dmafd = c.to_fd(fd, h, uapi.DRM_CLOEXEC | uapi.DRM_RDWR)
    for name, flags in (("dmabuf_sync_bad_flags", 1 << 3),
                        ("dmabuf_sync_without_rw", uapi.DMA_BUF_SYNC_END),
                        ("dmabuf_sync_start", uapi.DMA_BUF_SYNC_START | uapi.DMA_BUF_SYNC_RW),
                        ("dmabuf_sync_end", uapi.DMA_BUF_SYNC_END | uapi.DMA_BUF_SYNC_RW)):
        s[name] = ioctl_ret(p, dmafd, uapi.DMA_BUF_IOCTL_SYNC, uapi.dma_buf_sync(flags=flags))
    s["drm_ioctl_on_dmabuf"] = ioctl_ret(p, dmafd, uapi.DRM_IOCTL_GEM_CLOSE,
                                     uapi.drm_gem_close(handle=h))
    s["import_same"], h_same = c.to_handle(fd, dmafd)
    s["import_same_is_the_handle"] = int(h_same == h)
    s["import_other"], h_other = c.to_handle(fd2, dmafd)
    s["import_other_reads"] = c.reads_abcd(fd2, h_other)
    r, h_again = c.to_handle(fd2, dmafd)
    s["import_other_again_same_handle"] = int(r == 0 and h_again == h_other)
    s["import_drm_fd"], _ = c.to_handle(fd, fd2)
    pipe = p.fd_install(FileBase())
    s["import_pipe"], _ = c.to_handle(fd, pipe)
    s["import_closed_fd"], _ = c.to_handle(fd, 1000)
    return h, dmafd, h_other


def _dmabuf_in_children(c: _Client, fd: int, dmafd: int, s: dict[str, int]) -> None:
    """A forked child imports the inherited dma-buf, and one passed as by SCM_RIGHTS."""
    p = c.p
    child = p.fork()
    cc = _Client(child)
    cfd = child.open("/dev/dri/renderD128")
    r, ch = cc.to_handle(cfd, dmafd)
    s["fork_child_imports"] = 0 if r == 0 and cc.reads_abcd(cfd, ch) == 1 else 1
    child.exit()

    child = p.fork()                     # SCM_RIGHTS: the file moves into the child's table
    _, h3 = c.create(fd)
    c.pwrite(fd, h3, b"abcd")
    s["scm_export"], dmafd3 = c.to_fd(fd, h3, uapi.DRM_CLOEXEC)
    got = child.fd_install(p.fd_get(dmafd3))
    p.close(dmafd3)
    s["scm_close_handle"] = c.close_handle(fd, h3)
    cc = _Client(child)
    cfd = child.open("/dev/dri/renderD128")
    r, ch = cc.to_handle(cfd, got)
    s["scm_rights_child_imports"] = 0 if r == 0 and cc.reads_abcd(cfd, ch) == 1 else 1
    child.exit()


def _dmabuf_lifetime(c: _Client, fd: int, fd2: int, h: int, h_other: int, dmafd: int,
                     s: dict[str, int]) -> None:
    """The dma-buf keeps the object alive after both handles are closed."""
    s["close_handle"] = c.close_handle(fd, h)
    s["close_other_handle"] = c.close_handle(fd2, h_other)
    s["lifetime_import"], h_again = c.to_handle(fd, dmafd)
    s["lifetime_reads"] = c.reads_abcd(fd, h_again)
    s["lifetime_close"] = c.close_handle(fd, h_again)
    c.p.close(dmafd)


def _sync_files(c: _Client, fd: int, fd2: int, h: int, s: dict[str, int]) -> int:
    """Out-fences, sync_file info and merge, in-fences, EMFILE; returns the batch."""
    p = c.p
    _, batch = c.create(fd)
    c.pwrite(fd, batch, BBE)
    s["fence_out"], fence = c.execbuf(fd, batch, uapi.I915_EXEC_FENCE_OUT)
    s["fence_poll"] = c.polled(fence)
    info = uapi.sync_file_info()
    s["file_info"] = ioctl_ret(p, fence, uapi.SYNC_IOC_FILE_INFO, info)
    s["file_info_status"], s["file_info_num_fences"] = int(info.status), int(info.num_fences)
    merge = uapi.sync_merge_data(name=b"both", fd2=fence)
    s["merge"] = ioctl_ret(p, fence, uapi.SYNC_IOC_MERGE, merge)
    s["merged_poll"] = c.polled(merge.fence)
    s["merge_not_sync_file"] = ioctl_ret(p, fence, uapi.SYNC_IOC_MERGE,
                                     uapi.sync_merge_data(fd2=fd2))
    s["drm_ioctl_on_sync_file"] = ioctl_ret(p, fence, uapi.DRM_IOCTL_GEM_CLOSE,
                                        uapi.drm_gem_close(handle=h))
    s["fence_in"], _ = c.execbuf(fd, batch, uapi.I915_EXEC_FENCE_IN, merge.fence)
    s["fence_in_not_sync_file"], _ = c.execbuf(fd, batch, uapi.I915_EXEC_FENCE_IN, fd2)
    p.close(merge.fence)
    p.close(fence)

    lowest = min(set(range(1024)) - set(p.files.fds()) - {0, 1, 2})
    p.setrlimit_nofile(lowest)
    s["fence_out_emfile"], _ = c.execbuf(fd, batch, uapi.I915_EXEC_FENCE_OUT)
    p.setrlimit_nofile(1024)
    return batch


def _syncobjs(c: _Client, fd: int, fd2: int, batch: int, s: dict[str, int]) -> None:
    """Syncobj create, wait, fd export/import across files, sync_file export, execbuf."""
    p = c.p
    cr = uapi.drm_syncobj_create(flags=uapi.DRM_SYNCOBJ_CREATE_SIGNALED)
    s["syncobj_create"] = ioctl_ret(p, fd, uapi.DRM_IOCTL_SYNCOBJ_CREATE, cr)
    so = c.u32s(256, cr.handle)
    s["syncobj_wait_signalled"] = ioctl_ret(p, fd, uapi.DRM_IOCTL_SYNCOBJ_WAIT,
                                        uapi.drm_syncobj_wait(handles=so, count_handles=1))
    sh = uapi.drm_syncobj_handle(handle=cr.handle)
    s["syncobj_to_fd"] = ioctl_ret(p, fd, uapi.DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, sh)
    sh2 = uapi.drm_syncobj_handle(fd=sh.fd)
    s["syncobj_from_fd_other_file"] = ioctl_ret(p, fd2, uapi.DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, sh2)
    so2 = c.u32s(260, sh2.handle)
    s["syncobj_wait_other_file"] = ioctl_ret(p, fd2, uapi.DRM_IOCTL_SYNCOBJ_WAIT,
                                         uapi.drm_syncobj_wait(handles=so2, count_handles=1))
    p.close(sh.fd)
    ex = uapi.drm_syncobj_handle(handle=cr.handle,
                                 flags=uapi.DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE)
    s["syncobj_export_sync_file"] = ioctl_ret(p, fd, uapi.DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, ex)
    s["syncobj_exported_poll"] = c.polled(ex.fd)
    p.close(ex.fd)
    cr2 = uapi.drm_syncobj_create()
    ioctl_ret(p, fd, uapi.DRM_IOCTL_SYNCOBJ_CREATE, cr2)
    empty = c.u32s(264, cr2.handle)
    s["syncobj_wait_empty"] = ioctl_ret(p, fd, uapi.DRM_IOCTL_SYNCOBJ_WAIT,
                                    uapi.drm_syncobj_wait(handles=empty, count_handles=1))
    ef = c.u32s(272, cr2.handle, uapi.I915_EXEC_FENCE_SIGNAL)
    s["syncobj_execbuf_signal"], _ = c.execbuf(fd, batch, uapi.I915_EXEC_FENCE_ARRAY, 0, ef, 1)
    deadline = time.monotonic_ns() + 5_000_000_000
    s["syncobj_wait_execbuf"] = ioctl_ret(p, fd, uapi.DRM_IOCTL_SYNCOBJ_WAIT, uapi.drm_syncobj_wait(
        handles=empty, count_handles=1, timeout_nsec=deadline))
