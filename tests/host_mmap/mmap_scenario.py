"""mmap_client.c, line for line, in the simulated machine: the same names, the same results."""

from __future__ import annotations

import struct
from collections.abc import Callable
from os import O_RDONLY

from softgem import Machine, Segfault, Sigbus, igt, uapi
from softgem.machine import Process
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE

SZ = 64 << 10
RW = PROT_READ | PROT_WRITE


def _err(fn: Callable[[], object]) -> int:
    try:
        fn()
    except OSError as exc:
        return -(exc.errno or 0)
    return 0


def _map(p: Process, fd: int, off: int, length: int, prot: int) -> tuple[int | None, int]:
    try:
        return p.mmap(0, length, prot, MAP_SHARED, fd, off), 0
    except OSError as exc:
        return None, -(exc.errno or 0)


def _touch(p: Process, addr: int, write: bool) -> str:
    try:
        if write:
            p.write(addr, b"\1")
        else:
            p.read(addr, 1)
    except Sigbus:
        return "SIGBUS"
    except Segfault:
        return "SIGSEGV"
    return "ok"


def _userptr_then_validate(p: Process, fd: int, ptr: int) -> str:
    ret, handle = igt.__gem_userptr(p, fd, ptr, SZ, 0)
    if ret:
        return f"{ret} 0"
    got = igt.__gem_set_domain(p, fd, handle, uapi.I915_GEM_DOMAIN_CPU, uapi.I915_GEM_DOMAIN_CPU)
    igt.gem_close(p, fd, handle)
    return f"0 {got}"


def _legacy(p: Process, fd: int, **fields: int) -> tuple[int, int]:
    arg = uapi.drm_i915_gem_mmap(**fields)
    ret = _err(lambda: p.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_MMAP, arg))
    return ret, arg.addr_ptr


def _gpu_store(p: Process, fd: int, h: int, m: int) -> str:
    bh = igt.gem_create(p, fd, 4096)
    bp, _ = _map(p, fd, igt.gem_mmap_offset(p, fd, bh, uapi.I915_MMAP_OFFSET_WB), 4096, RW)
    assert bp is not None
    target = 0x100000 + 12288
    p.write(bp, struct.pack("<5I", 0x10000002, target & 0xFFFFFFFF, target >> 32, 0xC0FFEE,
                            0x05000000))
    eo = (uapi.drm_i915_gem_exec_object2 * 2)()
    eo[0].handle, eo[0].offset = h, 0x100000
    eo[0].flags = uapi.EXEC_OBJECT_PINNED | uapi.EXEC_OBJECT_WRITE
    eo[1].handle, eo[1].offset, eo[1].flags = bh, 0x200000, uapi.EXEC_OBJECT_PINNED
    objs = p.mmap(0, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(objs, bytes(eo))
    eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=objs, buffer_count=2,
                                       flags=uapi.I915_EXEC_RENDER)
    ret = _err(lambda: p.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, eb))
    w = uapi.drm_i915_gem_wait(bo_handle=h, timeout_ns=-1)
    wret = ret or _err(lambda: p.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_WAIT, w))
    seen = struct.unpack("<I", p.read(m + 12288, 4))[0] == 0xC0FFEE
    p.munmap(bp, 4096)
    p.munmap(objs, 4096)
    igt.gem_close(p, fd, bh)
    return f"gpu-store-seen-by-wb: {ret} {wret} {'ok' if seen else 'differs'}"


def _dmabuf(p: Process, fd: int) -> list[str]:
    out = []
    xh = igt.gem_create(p, fd, 8192)
    xp = uapi.drm_prime_handle(handle=xh, flags=uapi.DRM_CLOEXEC | uapi.DRM_RDWR)
    ret = _err(lambda: p.ioctl(fd, uapi.DRM_IOCTL_PRIME_HANDLE_TO_FD, xp))
    xm, err = _map(p, xp.fd, 0, 8192, RW) if not ret else (None, 0)
    if xm is not None:
        p.write(xm, b"\x42" * 8192)
    same = xm is not None and igt.gem_read(p, fd, xh, 100, 4)[:1] == b"\x42"
    out.append(f"dmabuf-map: {ret} {err} {'same' if same else 'differs'}")
    out.append(f"dmabuf-past-end: {_map(p, xp.fd, 4096, 8192, PROT_READ)[1]}")
    if xm is not None:
        ret, u = igt.__gem_userptr(p, fd, xm, 8192, 0)
        got = 0 if ret else igt.__gem_set_domain(p, fd, u, uapi.I915_GEM_DOMAIN_CPU,
                                                 uapi.I915_GEM_DOMAIN_CPU)
        if not ret:
            igt.gem_close(p, fd, u)
        out.append(f"userptr-over-dmabuf-map: {ret} {got}")
    yh = igt.gem_create(p, fd, 8192)
    yp = uapi.drm_prime_handle(handle=yh, flags=uapi.DRM_CLOEXEC)
    p.ioctl(fd, uapi.DRM_IOCTL_PRIME_HANDLE_TO_FD, yp)
    out.append(f"dmabuf-rdonly-write: {_map(p, yp.fd, 0, 8192, RW)[1]}")
    if xm is not None:
        p.munmap(xm, 8192)
    p.close(xp.fd)
    p.close(yp.fd)
    igt.gem_close(p, fd, xh)
    igt.gem_close(p, fd, yh)
    return out


def play(machine: Machine) -> list[str]:
    p = machine.spawn("client")
    out: list[str] = []
    fd, other = p.open("/dev/dri/card0"), p.open("/dev/dri/card0")

    h = igt.gem_create(p, fd, SZ)
    off = igt.gem_mmap_offset(p, fd, h, uapi.I915_MMAP_OFFSET_WB)
    m, err = _map(p, fd, off, SZ, RW)
    out.append(f"wb-map: {err}")
    assert m is not None
    p.write(m, bytes((i * 7) & 0xFF for i in range(SZ)))
    got = igt.gem_read(p, fd, h, 4096, 256)
    want = bytes(((4096 + i) * 7) & 0xFF for i in range(256))
    out.append(f"wb-write-then-pread: {'ok' if got == want else 'differs'}")
    igt.gem_write(p, fd, h, 8192, b"\xab" * 256)
    seen = p.read(m + 8192, 256) == b"\xab" * 256
    out.append(f"pwrite-then-wb-read: {'ok' if seen else 'differs'}")

    out.append(_gpu_store(p, fd, h, m))
    out.extend(_bad_maps(p, fd, other, off))
    out.extend(_other_maps(p, fd, h, m))
    out.extend(_legacy_maps(p, fd, h, m))
    out.extend(_dmabuf(p, fd))
    out.extend(_rdonly(p))

    igt.gem_close(p, fd, h)
    p.close(fd)
    same = p.read(m + 1, 1) == b"\x07"
    out.append(f"after-close-read: {_touch(p, m, False)} {'same' if same else 'differs'}")
    out.append(f"after-close-write: {_touch(p, m, True)}")
    out.extend(_purged(p, other))
    p.exit()
    return out


def _bad_maps(p: Process, fd: int, other: int, off: int) -> list[str]:
    """mmap of the fake offset: outside the node, another file's, zero, unaligned, a prefix."""
    out: list[str] = []
    out.append(f"no-node: {_map(p, fd, off + SZ, 4096, PROT_READ)[1]}")
    out.append(f"past-node: {_map(p, fd, off, SZ + 4096, PROT_READ)[1]}")
    out.append(f"other-file: {_map(p, other, off, SZ, PROT_READ)[1]}")
    out.append(f"zero-length: {_map(p, fd, off, 0, PROT_READ)[1]}")
    out.append(f"unaligned-offset: {_map(p, fd, off + 1, 4096, PROT_READ)[1]}")
    part, err = _map(p, fd, off, 4096, PROT_READ)
    same = part is not None and p.read(part + 1, 1) == b"\x07"
    out.append(f"prefix-of-node: {err} {'same' if same else 'differs'}")
    return out


def _other_maps(p: Process, fd: int, h: int, m: int) -> list[str]:
    """The same object through WC and GTT offsets, and a userptr over the WB map."""
    out: list[str] = []
    woff = igt.gem_mmap_offset(p, fd, h, uapi.I915_MMAP_OFFSET_WC)
    wc, err = _map(p, fd, woff, SZ, RW)
    same = wc is not None and p.read(wc + 3, 1) == bytes([21])
    out.append(f"wc-map: {err} {'same' if same else 'differs'}")
    g = uapi.drm_i915_gem_mmap_gtt(handle=h)
    ret = _err(lambda: p.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_MMAP_GTT, g))
    gtt, err = _map(p, fd, g.offset, SZ, RW) if not ret else (None, 0)
    same = gtt is not None and p.read(gtt + 5, 1) == bytes([35])
    out.append(f"gtt-map: {ret} {err} {'same' if same else 'differs'}")

    out.append(f"userptr-over-mmap-offset: {_userptr_then_validate(p, fd, m)}")
    return out


def _legacy_maps(p: Process, fd: int, h: int, m: int) -> list[str]:
    """DRM_IOCTL_I915_GEM_MMAP's ladder, its map seen through the WB one, a userptr over it."""
    out: list[str] = []
    out.append(f"legacy-zero-size: {_legacy(p, fd, handle=h, size=0)[0]}")
    out.append(f"legacy-bad-flags: {_legacy(p, fd, handle=h, size=SZ, flags=2)[0]}")
    out.append(f"legacy-overflow: {_legacy(p, fd, handle=h, offset=4096, size=SZ)[0]}")
    out.append(f"legacy-bad-handle: {_legacy(p, fd, handle=999, size=SZ)[0]}")
    ret, legacy = _legacy(p, fd, handle=h, size=SZ)
    same = not ret and p.read(legacy + 9, 1) == bytes([63])
    out.append(f"legacy-map: {ret} {'same' if same else 'differs'}")
    if not ret:
        p.write(legacy + 10, b"\x5a")
        seen = p.read(m + 10, 1) == b"\x5a"
        out.append(f"legacy-write-seen-by-wb: {'ok' if seen else 'differs'}")
        out.append(f"userptr-over-legacy: {_userptr_then_validate(p, fd, legacy)}")
    out.append(f"legacy-wc: {_legacy(p, fd, handle=h, size=SZ, flags=1)[0]}")
    return out


def _rdonly(p: Process) -> list[str]:
    """A file opened O_RDONLY: no shared writable map, not even by mprotect."""
    out: list[str] = []
    ro = p.open("/dev/dri/card0", O_RDONLY)
    rh = igt.gem_create(p, ro, SZ)
    roff = igt.gem_mmap_offset(p, ro, rh, uapi.I915_MMAP_OFFSET_WB)
    out.append(f"rdonly-shared-write: {_map(p, ro, roff, SZ, RW)[1]}")
    rp, err = _map(p, ro, roff, SZ, PROT_READ)
    out.append(f"rdonly-shared-read: {err}")
    ret = _err(lambda: p.mprotect(rp, SZ, RW)) if rp is not None else 0
    out.append(f"rdonly-mprotect-write: {ret}")
    p.close(ro)
    return out


def _purged(p: Process, other: int) -> list[str]:
    """An object marked DONTNEED: its offset mapped and read."""
    out: list[str] = []
    d = igt.gem_create(p, other, SZ)
    mad = uapi.drm_i915_gem_madvise(handle=d, madv=uapi.I915_MADV_DONTNEED)
    ret = _err(lambda: p.ioctl(other, uapi.DRM_IOCTL_I915_GEM_MADVISE, mad))
    doff = igt.gem_mmap_offset(p, other, d, uapi.I915_MMAP_OFFSET_WB)
    dp, err = _map(p, other, doff, SZ, PROT_READ)
    out.append(f"purged-map: {ret} {err}")
    out.append(f"purged-read: {_touch(p, dp, False) if dp is not None else 'unmapped'}")
    return out
