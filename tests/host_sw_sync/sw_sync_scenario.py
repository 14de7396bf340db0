"""The sw_sync_client.c scenario, step for step, in the simulated machine."""

from __future__ import annotations

import ctypes
import struct
import time

from c_steps import ioctl_ret

from softgem import Machine, uapi
from softgem.gpu.sw_sync import (
    SW_SYNC_GET_DEADLINE,
    SW_SYNC_IOC_CREATE_FENCE,
    SW_SYNC_IOC_INC,
    SW_SYNC_PATHS,
)
from softgem.gpu.sync_file import SyncFile
from softgem.gpu.sync_file_ioctl import SYNC_IOC_SET_DEADLINE
from softgem.machine import Process
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE

BBE = struct.pack("<II", 0xA << 23, 0)
SW_SYNC = SW_SYNC_PATHS[0]


class create_fence(ctypes.Structure):
    _fields_ = [("value", ctypes.c_uint32), ("name", ctypes.c_char * 32),
                ("fence", ctypes.c_int32)]


class get_deadline(ctypes.Structure):
    _fields_ = [("deadline_ns", ctypes.c_uint64), ("fence_fd", ctypes.c_int32),
                ("pad", ctypes.c_uint32)]


class set_deadline(ctypes.Structure):
    _fields_ = [("deadline_ns", ctypes.c_uint64), ("pad", ctypes.c_uint64)]


class _Client:
    def __init__(self, p: Process) -> None:
        self.p = p
        self.buf = p.mmap(0, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)

    def create(self, tl: int, value: int, name: bytes = b"") -> tuple[int, int]:
        c = create_fence(value=value, name=name, fence=-1)
        r = ioctl_ret(self.p, tl, SW_SYNC_IOC_CREATE_FENCE, c)
        return r, -1 if r else int(c.fence)

    def inc(self, tl: int, by: int) -> int:
        return ioctl_ret(self.p, tl, SW_SYNC_IOC_INC, ctypes.c_uint32(by))

    def status(self, fence: int) -> int:
        info = uapi.sync_file_info()
        r = ioctl_ret(self.p, fence, uapi.SYNC_IOC_FILE_INFO, info)
        return -1000 + r if r else int(info.status)

    def polled(self, fence: int) -> int:
        sf = self.p.file(fence)
        assert isinstance(sf, SyncFile)
        return int(sf.poll())

    def deadline(self, tl: int, fence: int, ns: int = 0, pad: int = 0) -> tuple[int, int]:
        d = get_deadline(deadline_ns=ns, fence_fd=fence, pad=pad)
        return ioctl_ret(self.p, tl, SW_SYNC_GET_DEADLINE, d), int(d.deadline_ns)

    def set_deadline(self, fence: int, ns: int, pad: int = 0) -> int:
        return ioctl_ret(self.p, fence, SYNC_IOC_SET_DEADLINE, set_deadline(deadline_ns=ns, pad=pad))

    def names(self, fence: int) -> tuple[bytes, bytes, bytes]:
        """(file name, driver name, timeline name) from SYNC_IOC_FILE_INFO."""
        fi = uapi.sync_fence_info()
        self.p.write(self.buf + 512, bytes(fi))
        info = uapi.sync_file_info(num_fences=1, sync_fence_info=self.buf + 512)
        ioctl_ret(self.p, fence, uapi.SYNC_IOC_FILE_INFO, info)
        got = uapi.sync_fence_info.from_buffer_copy(self.p.read(self.buf + 512,
                                                                ctypes.sizeof(fi)))
        plain = uapi.sync_file_info()
        ioctl_ret(self.p, fence, uapi.SYNC_IOC_FILE_INFO, plain)
        return bytes(plain.name), bytes(got.driver_name), bytes(got.obj_name)

    def stamped_between(self, fence: int, lo: int, hi: int) -> int:
        """sync_fence_info's timestamp_ns: 0 while pending, the signal time after."""
        fi = uapi.sync_fence_info()
        self.p.write(self.buf + 512, bytes(fi))
        info = uapi.sync_file_info(num_fences=1, sync_fence_info=self.buf + 512)
        r = ioctl_ret(self.p, fence, uapi.SYNC_IOC_FILE_INFO, info)
        if r:
            return r
        ts = uapi.sync_fence_info.from_buffer_copy(self.p.read(self.buf + 512,
                                                               ctypes.sizeof(fi))).timestamp_ns
        return int(lo <= ts <= hi) if lo else int(ts == 0)

    def gpu(self, fd: int, batch: int, in_fence: int) -> tuple[int, int]:
        self.p.write(self.buf + 128, bytes(uapi.drm_i915_gem_exec_object2(handle=batch)))
        eb = uapi.drm_i915_gem_execbuffer2(
            buffers_ptr=self.buf + 128, buffer_count=1, rsvd2=in_fence,
            flags=uapi.I915_EXEC_FENCE_IN | uapi.I915_EXEC_FENCE_OUT)
        r = ioctl_ret(self.p, fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2_WR, eb)
        return r, -1 if r else int(eb.rsvd2 >> 32)

    def busy(self, fd: int, h: int) -> int:
        b = uapi.drm_i915_gem_busy(handle=h)
        r = ioctl_ret(self.p, fd, uapi.DRM_IOCTL_I915_GEM_BUSY, b)
        return r or int(b.busy != 0)

    def batch(self, fd: int) -> int:
        c = uapi.drm_i915_gem_create(size=4096)
        ioctl_ret(self.p, fd, uapi.DRM_IOCTL_I915_GEM_CREATE, c)
        self.p.write(self.buf, BBE)
        ioctl_ret(self.p, fd, uapi.DRM_IOCTL_I915_GEM_PWRITE,
              uapi.drm_i915_gem_pwrite(handle=c.handle, size=8, data_ptr=self.buf))
        return int(c.handle)


def play(machine: Machine) -> dict[str, int]:
    """The C program's steps in order; every step's results by name (0 or an errno)."""
    p = machine.spawn("sw_sync_client")
    c = _Client(p)
    s: dict[str, int] = {}
    tl = p.open(SW_SYNC)
    s["open"] = 0
    fd = p.open("/dev/dri/card0")
    f1, f1b, fout = _gated_execbuf(c, tl, fd, s)
    f0, fh, fw = _reached_and_wrapped(c, tl, s)
    fb, fo, merged, tl2 = _deadlines_and_merges(c, tl, fd, fw, fout, s)
    _bad_requests(c, tl, s)
    s["inc_other"] = c.inc(tl2, 100)
    s["other_signalled"], s["other_untouched"] = c.status(fo), c.status(fb)
    s["merged_pending"] = c.status(merged)
    p.close(tl2)
    p.close(tl)
    s["closed_status"], s["closed_poll"] = c.status(fb), c.polled(fb)
    s["merged_closed_status"] = c.status(merged)
    for f in (f1, f1b, f0, fh, fw, fb, fo, fout, merged, fd):
        p.close(f)
    p.exit()
    return s


def _gated_execbuf(c: _Client, tl: int, fd: int, s: dict[str, int]) -> tuple[int, int, int]:
    """A pending point, its names; an execbuf gated on it runs once the timeline reaches it."""
    s["create_1"], f1 = c.create(tl, 1, b"one")
    s["pending_status"], s["pending_poll"] = c.status(f1), c.polled(f1)
    name, driver, timeline = c.names(f1)
    name = name.rstrip(b"\0")
    s["generated_name"] = int(name.startswith(b"sw_sync-sw_sync_client") and name.endswith(b"-1"))
    s["driver_and_timeline"] = int(driver.rstrip(b"\0") == b"sw_sync"
                                   and timeline.rstrip(b"\0") == b"sw_sync_client")
    s["create_1_unnamed"], f1b = c.create(tl, 1)
    s["unnamed_pending"] = c.status(f1b)
    batch = c.batch(fd)
    s["execbuf_in_fence"], fout = c.gpu(fd, batch, f1)
    s["busy_while_pending"] = c.busy(fd, batch)
    s["out_fence_pending"] = c.status(fout)
    s["pending_timestamp_0"] = c.stamped_between(f1, 0, 0)
    t0 = time.monotonic_ns()
    s["inc_1"] = c.inc(tl, 1)
    s["signal_timestamp"] = c.stamped_between(f1, t0, time.monotonic_ns())
    s["batch_done"] = ioctl_ret(c.p, fd, uapi.DRM_IOCTL_I915_GEM_WAIT,
                            uapi.drm_i915_gem_wait(bo_handle=batch, timeout_ns=5_000_000_000))
    s["signalled_status"], s["twin_signalled"] = c.status(f1), c.status(f1b)
    s["out_fence_signalled"] = c.polled(fout) + int(c.status(fout) == 1)
    return f1, f1b, fout


def _reached_and_wrapped(c: _Client, tl: int, s: dict[str, int]) -> tuple[int, int, int]:
    s["create_0"], f0 = c.create(tl, 0)
    s["reached_status"] = c.status(f0)
    s["create_half_way"], fh = c.create(tl, 0x80000001)
    s["half_way_status"] = c.status(fh)
    s["inc_big"] = c.inc(tl, 0xFFFFFFF0)
    s["create_wrapped"], fw = c.create(tl, 5, b"w")
    s["wrapped_pending"] = c.status(fw)
    s["inc_past_zero"] = c.inc(tl, 0x10)
    s["wrapped_still_pending"] = c.status(fw)
    s["inc_4"] = c.inc(tl, 4)
    s["wrapped_signalled"] = c.status(fw)
    return f0, fh, fw


def _deadlines_and_merges(c: _Client, tl: int, fd: int, fw: int, fout: int,
                          s: dict[str, int]) -> tuple[int, int, int, int]:
    p = c.p
    s["create_b"], fb = c.create(tl, 10, b"b")
    s["deadline_unset"], _ = c.deadline(tl, fb)
    s["set_deadline_pad"] = c.set_deadline(fb, 5000, 1)
    for ns in (5000, 3000, 9000):
        s[f"set_deadline_{ns}"] = c.set_deadline(fb, ns)
    r, got = c.deadline(tl, fb)
    s["deadline_earliest"] = r or int(got == 3000)
    s["deadline_in_nonzero"], _ = c.deadline(tl, fb, ns=1)
    s["deadline_pad"], _ = c.deadline(tl, fb, pad=1)
    s["deadline_bad_fd"], _ = c.deadline(tl, -1)
    s["deadline_drm_fd"], _ = c.deadline(tl, fd)
    s["deadline_i915_fence"], _ = c.deadline(tl, fout)
    m = uapi.sync_merge_data(name=b"m", fd2=fb)
    s["merge_with_signalled"] = ioctl_ret(p, fw, uapi.SYNC_IOC_MERGE, m)
    s["deadline_merge_of_one"], _ = c.deadline(tl, m.fence)
    p.close(m.fence)
    tl2 = p.open(SW_SYNC)
    s["create_other"], fo = c.create(tl2, 1)
    m2 = uapi.sync_merge_data(name=b"m2", fd2=fo)
    s["merge_two_timelines"] = ioctl_ret(p, fb, uapi.SYNC_IOC_MERGE, m2)
    s["deadline_merged"], _ = c.deadline(tl, m2.fence)
    return fb, fo, int(m2.fence), tl2


def _bad_requests(c: _Client, tl: int, s: dict[str, int]) -> None:
    s["create_efault"] = ioctl_ret(c.p, tl, SW_SYNC_IOC_CREATE_FENCE, 8)
    s["inc_efault"] = ioctl_ret(c.p, tl, SW_SYNC_IOC_INC, 8)
    s["deadline_efault"] = ioctl_ret(c.p, tl, SW_SYNC_GET_DEADLINE, 8)
    s["unknown_ioctl"] = ioctl_ret(c.p, tl, (ord("W") << 8) | 9, 0)
    s["sync_ioctl_on_timeline"] = ioctl_ret(c.p, tl, uapi.SYNC_IOC_FILE_INFO, 0)
