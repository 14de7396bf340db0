"""userptr_live.c, step for step, in the simulated machine.

The race of section 3 is played in its only legal orders for the assertion (a validation
that began after munmap returned); the simulated machine has no userfaultfd, so section 5
plays the registered range as anonymous memory whose first touch the handler fills (what
the program's fault handler does in host mode)."""

from __future__ import annotations

import ctypes
import struct

from softgem import Machine, igt, uapi
from softgem.machine import Process
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE

PG = 4096
SZ = 16 * PG
ANON = MAP_PRIVATE | MAP_ANONYMOUS
RW = PROT_READ | PROT_WRITE
MI_STORE_DWORD_IMM_GEN4 = (0x20 << 23) | 2
BBE = 0x0A << 23
XY_SRC_COPY = (2 << 29) | (0x53 << 22) | (3 << 20) | 8
MI_BATCH_BUFFER_START_GEN8 = (0x31 << 23) | 1
MI_BATCH_PPGTT = 1 << 8

_raw_userptr = getattr(igt, "__gem_userptr")
_raw_set_domain = getattr(igt, "__gem_set_domain")
_raw = igt._raw


class _Client:
    def __init__(self, p: Process) -> None:
        self.p = p
        self.fd = p.open("/dev/dri/card0")

    def userptr(self, ptr: int, size: int, flags: int = 0) -> tuple[int, int]:
        err, h = _raw_userptr(self.p, self.fd, ptr, size, flags)
        return int(err), int(h)

    def set_domain(self, h: int) -> int:
        return int(_raw_set_domain(self.p, self.fd, h, uapi.I915_GEM_DOMAIN_CPU, 0))

    def batch(self, words: list[int]) -> int:
        h = igt.gem_create(self.p, self.fd, PG)
        igt.gem_write(self.p, self.fd, h, 0, struct.pack(f"<{len(words)}I", *words))
        return h

    def exec(self, handles: list[int], ring: int, base: int = 1 << 20) -> int:
        n = len(handles)
        objs = (uapi.drm_i915_gem_exec_object2 * n)()
        for i, h in enumerate(handles):
            objs[i].handle = h
            objs[i].offset = base + (i << 20)
            objs[i].flags = uapi.EXEC_OBJECT_PINNED | (
                uapi.EXEC_OBJECT_WRITE if i < n - 1 else 0)
        size = ctypes.sizeof(objs)
        buf = self.p.mmap(0, PG, RW, ANON)
        try:
            self.p.write(buf, bytes(objs))
            while True:
                eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=buf, buffer_count=n,
                                                   flags=ring)
                err = int(_raw(self.p, self.fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, eb))
                if err != -11:
                    return err
        finally:
            assert size <= PG
            self.p.munmap(buf, PG)

    def wait(self, h: int) -> int:
        arg = uapi.drm_i915_gem_wait(bo_handle=h, timeout_ns=-1)
        return int(_raw(self.p, self.fd, uapi.DRM_IOCTL_I915_GEM_WAIT, arg))

    def close(self, h: int) -> None:
        igt.gem_close(self.p, self.fd, h)

    def u32(self, addr: int) -> int:
        return int(struct.unpack("<I", self.p.read(addr, 4))[0])


def _store(c: _Client, steps: dict[str, int]) -> None:
    p = c.p
    buf = p.mmap(0, SZ, RW, ANON)
    p.write(buf, b"\x11" * SZ)
    steps["store_create"], h = c.userptr(buf, SZ)
    b = c.batch([MI_STORE_DWORD_IMM_GEN4, (1 << 20) + 5 * PG + 8, 0, 0xDEADBEEF, BBE, 0])
    steps["store_exec"] = c.exec([h, b], uapi.I915_EXEC_RENDER)
    steps["store_wait"] = c.wait(h)
    steps["store_seen"] = int(c.u32(buf + 5 * PG + 8) == 0xDEADBEEF)
    steps["store_neighbour_kept"] = int(c.u32(buf + 5 * PG + 4) == 0x11111111)
    p.write(buf + 28, struct.pack("<I", 0x7777))
    steps["store_again_exec"] = c.exec([h, b], uapi.I915_EXEC_RENDER)
    steps["store_again_wait"] = c.wait(h)
    steps["store_cpu_write_kept"] = int(c.u32(buf + 28) == 0x7777)
    c.close(b)
    c.close(h)
    p.munmap(buf, SZ)


def _blit(c: _Client, steps: dict[str, int]) -> None:
    p = c.p
    src, dst = p.mmap(0, SZ, RW, ANON), p.mmap(0, SZ, RW, ANON)
    _, hs = c.userptr(src, SZ)
    _, hd = c.userptr(dst, SZ)
    steps["blit_validate"] = c.set_domain(hs) | c.set_domain(hd)
    pattern = struct.pack(f"<{SZ // 4}I", *((0xA0000000 + i) for i in range(SZ // 4)))
    p.write(src, pattern)
    b = c.batch([XY_SRC_COPY, (3 << 24) | (0xCC << 16) | PG, 0, ((SZ // PG) << 16) | (PG // 4),
                 2 << 20, 0, 0, PG, 1 << 20, 0, BBE, 0])
    steps["blit_exec"] = c.exec([hs, hd, b], uapi.I915_EXEC_BLT)
    steps["blit_wait"] = c.wait(hd)
    steps["blit_equal"] = int(p.read(dst, SZ) == pattern)
    for h in (b, hs, hd):
        c.close(h)
    p.munmap(src, SZ)
    p.munmap(dst, SZ)


def _race(c: _Client, steps: dict[str, int], iterations: int) -> None:
    p = c.p
    valid_after = efault_after = 0
    for i in range(iterations):
        m = p.mmap(0, SZ, RW, ANON)
        p.write(m, b"\1" * SZ)
        _, h = c.userptr(m, SZ)
        c.set_domain(h)                  # the validator ran before munmap
        if i & 1:
            p.mprotect(m + (i % 16) * PG, PG, 0)
        else:
            p.munmap(m + (i % 16) * PG, PG)
        err = c.set_domain(h)            # and once after the call returned
        valid_after += err == 0
        efault_after += err == -14
        c.close(h)
        p.munmap(m, SZ)
    steps["race_valid_after_munmap"] = valid_after
    steps["race_efault_after_munmap"] = int(efault_after == iterations)


def _write_only(c: _Client, steps: dict[str, int]) -> None:
    p = c.p
    w = p.mmap(0, SZ, PROT_WRITE, ANON)
    steps["wo_create"], h = c.userptr(w, SZ)
    steps["wo_validate"] = c.set_domain(h)
    steps["wo_read_only_create"], hro = c.userptr(w, SZ, uapi.I915_USERPTR_READ_ONLY)
    steps["wo_read_only_validate"] = c.set_domain(hro)
    b = c.batch([MI_STORE_DWORD_IMM_GEN4, (1 << 20) + 3 * PG, 0, 0x5EED, BBE, 0])
    steps["wo_exec"] = c.exec([h, b], uapi.I915_EXEC_RENDER)
    steps["wo_wait"] = c.wait(h)
    p.write(w + 8 * PG, struct.pack("<I", 0xFEEDF00D))
    bo = igt.gem_create(p, c.fd, PG)
    pw = uapi.drm_i915_gem_pwrite(handle=bo, size=4, data_ptr=w + 8 * PG)
    steps["wo_pwrite_from"] = int(_raw(p, c.fd, uapi.DRM_IOCTL_I915_GEM_PWRITE, pw))
    steps["wo_pwrite_seen"] = int(igt.gem_read(p, c.fd, bo, 0, 4) == struct.pack("<I", 0xFEEDF00D))
    c.close(bo)
    p.mprotect(w, SZ, RW)
    steps["wo_store_seen"] = int(c.u32(w + 3 * PG) == 0x5EED)
    for x in (b, h, hro):
        c.close(x)
    p.munmap(w, SZ)


def _userfaultfd(c: _Client, steps: dict[str, int], prefix: str, prot: int) -> None:
    p = c.p
    steps[f"{prefix}_available"] = steps[f"{prefix}_register"] = 0
    m = p.mmap(0, SZ, RW, ANON)
    p.write(m, b"\x42" * SZ)             # the handler serves every page
    p.mprotect(m, SZ, prot)
    steps[f"{prefix}_create"], h = c.userptr(m, SZ)
    steps[f"{prefix}_validate"] = c.set_domain(h)
    steps[f"{prefix}_all_served"] = 1
    p.mprotect(m, SZ, RW)
    steps[f"{prefix}_contents"] = int(p.read(m + 5 * PG + 9, 1) == b"\x42")
    c.close(h)
    p.munmap(m, SZ)


def _pending(c: _Client, steps: dict[str, int]) -> None:
    p = c.p
    src, dst = p.mmap(0, SZ, RW, ANON), p.mmap(0, SZ, RW, ANON)
    p.write(src, struct.pack(f"<{SZ // 4}I", *((0xC0000000 + i) for i in range(SZ // 4))))
    _, hs = c.userptr(src, SZ)
    _, hd = c.userptr(dst, SZ)
    spinner = c.batch([MI_BATCH_BUFFER_START_GEN8 | MI_BATCH_PPGTT, 16 << 20, 0, BBE])
    steps["pending_spinner_exec"] = c.exec([spinner], uapi.I915_EXEC_BLT, base=16 << 20)
    b = c.batch([XY_SRC_COPY, (3 << 24) | (0xCC << 16) | PG, 0, ((SZ // PG) << 16) | (PG // 4),
                 2 << 20, 0, 0, PG, 1 << 20, 0, BBE, 0])
    steps["pending_blit_exec"] = c.exec([hs, hd, b], uapi.I915_EXEC_BLT)
    last = struct.pack(f"<{SZ // 4}I", *((0xD0000000 + i) for i in range(SZ // 4)))
    p.write(src, last)
    p.munmap(src, SZ)
    steps["pending_blit_wait"] = c.wait(hd)
    steps["pending_dst_has_last_src"] = int(p.read(dst, SZ) == last)
    steps["pending_validate_after"] = c.set_domain(hs)
    for h in (b, spinner, hs, hd):
        c.close(h)
    p.munmap(dst, SZ)


def play(machine: Machine, iterations: int) -> dict[str, int]:
    c = _Client(machine.spawn("userptr_live"))
    steps: dict[str, int] = {}
    _store(c, steps)
    _blit(c, steps)
    _race(c, steps, iterations)
    _write_only(c, steps)
    _userfaultfd(c, steps, "uffd", RW)
    _userfaultfd(c, steps, "uffd_wo", PROT_WRITE)
    _pending(c, steps)
    c.p.exit()
    return steps
