"""IGT-style GPU helpers for the scenario tests: batches, exec objects, EXECBUFFER2.

Everything goes through ``proc.ioctl`` with the uapi structs, as a C test would: the exec
object array and the relocation arrays live in the process's own memory (a scratch mapping
made per call and unmapped afterwards), the batch is written with PWRITE or through a
userptr's own pointer.  Encodings are IGT's (``lib/intel_reg.h``, ``gem_userptr_blits.c``),
written out here so the tests check the command streamer against them, not against itself.

Imported as ``gpuscene`` (``tests/gpu_execbuf/conftest.py`` puts this directory on the path).
"""

from __future__ import annotations

import ctypes
import errno
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import softgem
from softgem import igt, uapi
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import page_align

__all__ = [
    "BBE", "MI_NOOP", "Exec", "Gem", "Spinner", "RW", "ANON", "WIDTH", "HEIGHT", "LINEAR",
    "dwords", "mi_store_dword", "obj", "reloc", "xy_color_blt", "xy_src_copy",
]

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS

# IGT lib/intel_reg.h
MI_NOOP = 0
BBE = 0x0A << 23                                   # MI_BATCH_BUFFER_END
MI_STORE_DWORD_IMM_GEN4 = (0x20 << 23) | 2
XY_SRC_COPY_BLT_CMD = (2 << 29) | (0x53 << 22)
XY_COLOR_BLT_CMD = (2 << 29) | (0x50 << 22)
BLT_WRITE_ALPHA = 1 << 21
BLT_WRITE_RGB = 1 << 20

# gem_userptr_blits.c's buffers: 512 x 512 pixels of 32 bits = 1 MiB.
WIDTH = HEIGHT = 512
LINEAR = WIDTH * HEIGHT * 4


# (the double-underscore name would be mangled inside a class body)
_raw_set_domain = getattr(igt, "__gem_set_domain")


def dwords(values: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(values)}I", *(v & 0xFFFFFFFF for v in values))


def _canon_hi(addr: int) -> int:
    return (addr >> 32) | (0xFFFF0000 if addr & (1 << 47) else 0)


def xy_src_copy(dst: int, src: int, width: int = WIDTH, height: int = HEIGHT,
                dst_pitch: int = WIDTH * 4, src_pitch: int = WIDTH * 4) -> list[int]:
    """The gen8+ 32 bpp XY_SRC_COPY_BLT of ``copy()`` in gem_userptr_blits.c, then BBE.

    The destination address is dword 4 (and 5), the source dword 8 (and 9): relocation
    offsets 16 and 32."""
    return [XY_SRC_COPY_BLT_CMD | BLT_WRITE_ALPHA | BLT_WRITE_RGB | 8,
            (3 << 24) | (0xCC << 16) | dst_pitch, 0, (height << 16) | width,
            dst & 0xFFFFFFFF, _canon_hi(dst), 0, src_pitch, src & 0xFFFFFFFF, _canon_hi(src),
            BBE, MI_NOOP]


def xy_color_blt(dst: int, color: int, width: int, height: int, pitch: int) -> list[int]:
    """gen8+ 32 bpp XY_COLOR_BLT filling ``width`` x ``height`` at ``dst``, then BBE."""
    return [XY_COLOR_BLT_CMD | BLT_WRITE_ALPHA | BLT_WRITE_RGB | 5,
            (3 << 24) | (0xF0 << 16) | pitch, 0, (height << 16) | width,
            dst & 0xFFFFFFFF, _canon_hi(dst), color, BBE]


def mi_store_dword(addr: int, value: int) -> list[int]:
    """gen8+ MI_STORE_DWORD_IMM (address at dword 1: relocation offset 4), then BBE."""
    return [MI_STORE_DWORD_IMM_GEN4, addr & 0xFFFFFFFF, addr >> 32, value, BBE, MI_NOOP]


@dataclass
class Exec:
    """One EXECBUFFER2 call: its objects (with their relocations) and its flags."""

    objects: list[uapi.drm_i915_gem_exec_object2]
    relocs: dict[int, list[uapi.drm_i915_gem_relocation_entry]] = field(default_factory=dict)
    flags: int = 0
    batch_start_offset: int = 0
    batch_len: int = 0
    rsvd1: int = 0
    rsvd2: int = 0
    eb: uapi.drm_i915_gem_execbuffer2 | None = None       # the struct after the call

    @property
    def out_fence(self) -> int:
        assert self.eb is not None
        return int(self.eb.rsvd2) >> 32


class Gem:
    """One process with the i915 open: the IGT vocabulary the scenarios need."""

    def __init__(self, proc: softgem.Process, fd: int | None = None) -> None:
        self.proc = proc
        self.fd = igt.drm_open_driver(proc) if fd is None else fd

    # -- objects -------------------------------------------------------------------------------
    def create(self, size: int, data: bytes = b"") -> int:
        handle = igt.gem_create(self.proc, self.fd, size)
        if data:
            igt.gem_write(self.proc, self.fd, handle, 0, data)
        return handle

    def batch(self, words: Sequence[int], size: int = 4096) -> int:
        return self.create(size, dwords(words))

    def userptr(self, ptr: int, size: int, flags: int = 0) -> int:
        return igt.gem_userptr(self.proc, self.fd, ptr, size, flags)

    def close(self, handle: int) -> None:
        igt.gem_close(self.proc, self.fd, handle)

    def read(self, handle: int, offset: int, n: int) -> bytes:
        return igt.gem_read(self.proc, self.fd, handle, offset, n)

    def set_domain(self, handle: int, read: int, write: int) -> int:
        return _raw_set_domain(self.proc, self.fd, handle, read, write)

    def busy(self, handle: int) -> int:
        arg = uapi.drm_i915_gem_busy(handle=handle)
        self.proc.ioctl(self.fd, uapi.DRM_IOCTL_I915_GEM_BUSY, arg)
        return int(arg.busy)

    def sync(self, handle: int) -> None:
        """gem_sync: wait for every GPU use of the object (WAIT with an infinite timeout)."""
        self.proc.ioctl(self.fd, uapi.DRM_IOCTL_I915_GEM_WAIT,
                        uapi.drm_i915_gem_wait(bo_handle=handle, timeout_ns=-1))

    # -- execbuf ---------------------------------------------------------------------------------
    @contextmanager
    def _user(self, size: int) -> Iterator[int]:
        length = page_align(max(size, 1))
        addr = self.proc.mmap(0, length, RW, ANON)
        try:
            yield addr
        finally:
            self.proc.munmap(addr, length)

    def execbuf(self, ex: Exec, *, wr: bool = True, retry: bool = False,
                raw_relocs: dict[int, tuple[int, int]] | None = None, **fields: int) -> int:
        """Issue ``ex``; 0 or ``-errno`` (``retry``: loop on EAGAIN/EINTR like drmIoctl).

        ``fields`` override members of the execbuffer2 struct as built (``buffer_count=0``),
        ``raw_relocs`` sets ``(relocs_ptr, relocation_count)`` of objects by index.  The
        objects are read back afterwards (their offsets as the kernel updated them), and so
        are the relocation entries (their presumed offsets)."""
        n = len(ex.objects)
        osz = ctypes.sizeof(uapi.drm_i915_gem_exec_object2)
        rsz = ctypes.sizeof(uapi.drm_i915_gem_relocation_entry)
        nrel = sum(len(v) for v in ex.relocs.values())
        with self._user(n * osz + nrel * rsz) as buf:
            at = buf + n * osz
            where: dict[int, int] = {}
            for i, rel in ex.relocs.items():
                where[i] = at
                self.proc.write(at, b"".join(bytes(r) for r in rel))
                ex.objects[i].relocs_ptr = at
                ex.objects[i].relocation_count = len(rel)
                at += len(rel) * rsz
            for i, (ptr, count) in (raw_relocs or {}).items():
                ex.objects[i].relocs_ptr, ex.objects[i].relocation_count = ptr, count
            self.proc.write(buf, b"".join(bytes(o) for o in ex.objects))
            eb = uapi.drm_i915_gem_execbuffer2(
                buffers_ptr=buf, buffer_count=n, batch_start_offset=ex.batch_start_offset,
                batch_len=ex.batch_len, flags=ex.flags, rsvd1=ex.rsvd1, rsvd2=ex.rsvd2)
            for name, value in fields.items():
                setattr(eb, name, value)
            request = (uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2_WR if wr
                       else uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2)
            err = self._ioctl(request, eb, retry)
            ex.eb = eb
            raw = self.proc.read(buf, n * osz)
            ex.objects = [uapi.drm_i915_gem_exec_object2.from_buffer_copy(raw, i * osz)
                          for i in range(n)]
            for i, rel in ex.relocs.items():
                raw = self.proc.read(where[i], len(rel) * rsz)
                ex.relocs[i] = [uapi.drm_i915_gem_relocation_entry.from_buffer_copy(
                    raw, k * rsz) for k in range(len(rel))]
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

    # -- IGT's copy() --------------------------------------------------------------------------
    def context(self) -> int:
        """A new GEM context (CONTEXT_CREATE_EXT); its id."""
        arg = uapi.drm_i915_gem_context_create_ext()
        self.proc.ioctl(self.fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT, arg)
        return int(arg.ctx_id)

    def copy(self, dst: int, src: int, *, flags: int = uapi.I915_EXEC_BLT,
             wait: bool = True, size: int = LINEAR, retry: bool = True, ctx: int = 0) -> int:
        """gem_userptr_blits.c ``copy()``: an XY_SRC_COPY of ``size`` bytes (rows of 512
        pixels, 1 MiB by default) from ``src`` to ``dst`` with relocations and an out-fence;
        waits for the fence; 0, ``-errno`` of the ioctl, or the fence's error."""
        bb_offset = 16 << 20
        dst_offset = bb_offset + 4096
        src_offset = dst_offset + max(size, LINEAR) * (src != dst)
        batch = self.batch(xy_src_copy(dst_offset, src_offset, height=size // (WIDTH * 4)))
        objs = [obj(dst, dst_offset)]
        if src != dst:
            objs.append(obj(src, src_offset))
        objs.append(obj(batch, bb_offset))
        # IGT leaves presumed_offset at 0 although the batch holds dst/src_offset; an
        # object placed at GPU address 0 would then skip its relocation (the kernel and
        # this model both do), so the presumed offsets here say what the batch says.
        relocs = [reloc(dst, 16, uapi.I915_GEM_DOMAIN_RENDER, uapi.I915_GEM_DOMAIN_RENDER,
                        presumed=dst_offset),
                  reloc(src, 32, uapi.I915_GEM_DOMAIN_RENDER, 0, presumed=src_offset)]
        ex = Exec(objs, {len(objs) - 1: relocs}, flags=flags | uapi.I915_EXEC_FENCE_OUT,
                  rsvd1=ctx)
        err = self.execbuf(ex, retry=retry)
        self.close(batch)
        if err == 0:
            err = self.wait_fence(ex.out_fence) if wait else 0
        return err

    def wait_fence(self, fd: int, close: bool = True) -> int:
        """sync_fence_wait(fd, -1) then sync_fence_status: 0 or the fence's ``-errno``."""
        sf = self.proc.file(fd)
        assert sf.wait(None)           # type: ignore[attr-defined]
        status: int = sf.status()      # type: ignore[attr-defined]
        if close:
            self.proc.close(fd)
        return 0 if status == 1 else status


def obj(handle: int, offset: int = 0, flags: int = uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS
        ) -> uapi.drm_i915_gem_exec_object2:
    return uapi.drm_i915_gem_exec_object2(handle=handle, offset=offset, flags=flags)


def reloc(target: int, offset: int, read: int, write: int = 0, delta: int = 0,
          presumed: int = 0) -> uapi.drm_i915_gem_relocation_entry:
    return uapi.drm_i915_gem_relocation_entry(target_handle=target, offset=offset, delta=delta,
                                              presumed_offset=presumed, read_domains=read,
                                              write_domain=write)


MI_BATCH_BUFFER_START_GEN8 = (0x31 << 23) | (1 << 8) | 1     # PPGTT, 3 dwords


class Spinner:
    """IGT's ``igt_spin``: a batch that jumps to itself until :meth:`end` rewrites its first
    dword to MI_BATCH_BUFFER_END through a WB mapping of the batch object."""

    def __init__(self, gem: Gem, *, flags: int = 0, ctx: int = 0,
                 dependency: int | None = None, write: bool = True) -> None:
        self.gem = gem
        self.handle = gem.batch([MI_BATCH_BUFFER_START_GEN8, 0, 0, MI_NOOP])
        self.map = igt.gem_mmap__wb(gem.proc, gem.fd, self.handle, 4096)
        objs = []
        if dependency is not None:
            objs.append(obj(dependency, flags=uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS |
                            (uapi.EXEC_OBJECT_WRITE if write else 0)))
        objs.append(obj(self.handle))
        self.ex = Exec(objs, {len(objs) - 1: [reloc(self.handle, 4,
                                                    uapi.I915_GEM_DOMAIN_COMMAND)]},
                       flags=flags | uapi.I915_EXEC_FENCE_OUT, rsvd1=ctx)
        err = gem.execbuf(self.ex, retry=True)
        assert err == 0, err
        self.fence = self.ex.out_fence

    def end(self) -> None:
        self.gem.proc.write(self.map, dwords([BBE]))

    def status(self) -> int:
        return self.gem.proc.file(self.fence).status()      # type: ignore[attr-defined]

    def free(self) -> None:
        self.end()
        self.gem.proc.file(self.fence).wait(None)           # type: ignore[attr-defined]
        self.gem.proc.close(self.fence)
        self.gem.proc.munmap(self.map, 4096)
        self.gem.close(self.handle)
