"""A GPU with its engines, one PPGTT, objects bound in it and a process address space, for the
command-streamer and engine tests.  Imported as ``gpu_exec_env`` (fixture ``gpux`` in conftest)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from softgem.gem.device import GemDevice
from softgem.gem.object import GemObject
from softgem.gem.shmem import shmem_create
from softgem.gem.userptr import submit_init, userptr_create
from softgem.gpu.engine import Engine, setup_engines
from softgem.gpu.gpu import attach
from softgem.gpu.hang import BAN_AFTER_HANGS
from softgem.gpu.mi import MI_BATCH_BUFFER_END
from softgem.gpu.ppgtt import Ppgtt
from softgem.gpu.request import Request
from softgem.gpu.vma import PIN_OFFSET_FIXED, PIN_USER, GpuVma
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE

__all__ = ["FakeContext", "GpuExecEnv"]


class FakeContext:
    """The context attributes the engines read and hang handling updates."""

    def __init__(self, *, bannable: bool = True, recoverable: bool = True) -> None:
        self.hangs = 0
        self.banned = False
        self.bannable = bannable
        self.recoverable = recoverable

    def mark_guilty(self) -> bool:
        """The rule of ``Context.mark_guilty`` (gpu/hang.py's table), without a file."""
        self.hangs += 1
        if self.bannable and (not self.recoverable or self.hangs >= BAN_AFTER_HANGS):
            self.banned = True
        return self.banned


class GpuExecEnv:
    """One device with a GPU, one PPGTT, a DRM file and a process address space."""

    def __init__(self, nr_frames: int = 4096, hang_timeout: float = 2.0) -> None:
        self.phys = PhysMem(nr_frames, rng=random.Random(11))
        self.dev = GemDevice(self.phys, rng=random.Random(12))
        self.gpu = attach(self.dev)
        setup_engines(self.gpu)
        self.gpu.hang_timeout = hang_timeout
        self.vm = Ppgtt(self.gpu, "gpu-exec")
        self.rcs: Engine = self.gpu.engines[(0, 0)]
        self.bcs: Engine = self.gpu.engines[(1, 0)]
        self.file = self.dev.open(0)
        self.mm = Mm(self.phys, name="gpu-exec", rng=random.Random(13))
        self._bound: list[tuple[GpuVma, GemObject]] = []

    # -- objects ---------------------------------------------------------------------------
    def _bind(self, obj: GemObject, readonly: bool | None, at: int | None) -> GpuVma:
        vma = self.gpu_vma(obj, readonly)
        if at is None:
            vma.pin(flags=PIN_USER)
        else:
            vma.pin(flags=PIN_USER | PIN_OFFSET_FIXED, offset=at)
        self._bound.append((vma, obj))
        return vma

    def gpu_vma(self, obj: GemObject, readonly: bool | None = None) -> GpuVma:
        return self.vm.instance(obj, readonly=readonly)

    def bo(self, size: int, *, readonly: bool = False, at: int | None = None) -> GpuVma:
        """A shmem object bound (and pinned) in the PPGTT."""
        return self._bind(shmem_create(self.dev, size), readonly, at)

    def anon(self, size: int) -> int:
        return self.mm.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)

    def userptr(self, ptr: int, size: int, flags: int = 0, *, at: int | None = None) -> GpuVma:
        """A userptr over ``[ptr, ptr + size)`` of ``mm``, validated and bound as execbuf does."""
        handle = userptr_create(self.dev, self.file, self.mm, ptr, size, flags)
        obj = self.file.lookup(handle)
        submit_init(obj, self.mm)
        return self._bind(obj, None, at)

    # -- the CPU's side of objects ---------------------------------------------------------
    def poke(self, vma: GpuVma, off: int, data: Any) -> None:
        """Write ``data`` into the object's pages, as the CPU would (not through PTEs)."""
        buf = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) \
            else data.reshape(-1).view(np.uint8)
        pages = vma.obj.pages
        assert pages is not None
        pos = 0
        while pos < len(buf):
            pfn, o = pages.page((off + pos) // PAGE_SIZE), (off + pos) % PAGE_SIZE
            k = min(PAGE_SIZE - o, len(buf) - pos)
            self.phys.page(pfn)[o:o + k] = buf[pos:pos + k]
            pos += k

    def peek(self, vma: GpuVma, off: int, n: int) -> np.ndarray:
        pages = vma.obj.pages
        assert pages is not None
        out = np.empty(n, dtype=np.uint8)
        pos = 0
        while pos < n:
            pfn, o = pages.page((off + pos) // PAGE_SIZE), (off + pos) % PAGE_SIZE
            k = min(PAGE_SIZE - o, n - pos)
            out[pos:pos + k] = self.phys.page(pfn)[o:o + k]
            pos += k
        return out

    def poke_u32(self, vma: GpuVma, off: int, value: int) -> None:
        self.poke(vma, off, np.array([value], dtype="<u4"))

    def peek_u32(self, vma: GpuVma, off: int) -> int:
        return int(self.peek(vma, off, 4).view("<u4")[0])

    def batch(self, dwords: list[int], *, end: bool = True, size: int = PAGE_SIZE) -> GpuVma:
        """A batch object holding ``dwords`` (plus MI_BATCH_BUFFER_END unless ``end=False``)."""
        vma = self.bo(size)
        self.poke(vma, 0, np.array(dwords + ([MI_BATCH_BUFFER_END] if end else []),
                                   dtype="<u4"))
        return vma

    # -- requests --------------------------------------------------------------------------
    def request(self, engine: Engine, batch: GpuVma | int, ctx: Any = None) -> Request:
        start = batch if isinstance(batch, int) else batch.start
        return Request(ctx, engine, start, PAGE_SIZE, vm=self.vm)

    def submit(self, engine: Engine, batch: GpuVma | int, ctx: Any = None) -> Request:
        rq = self.request(engine, batch, ctx)
        engine.submit(rq)
        return rq

    def run(self, engine: Engine, batch: GpuVma | int, ctx: Any = None) -> Request:
        """Submit and wait (at most 20 s, far beyond any test's needs)."""
        rq = self.submit(engine, batch, ctx)
        assert rq.wait(20), f"{rq!r} did not complete"
        return rq

    def teardown(self) -> None:
        for engine in self.gpu.engines.values():
            assert engine.wait_idle(20)
            engine.fini()
        for vma, _obj in self._bound:
            vma.unpin()
            vma.unbind()
        self.gpu.reap()
        for _vma, obj in self._bound:
            obj.put()
        self.file.release()
        self.mm.exit_mmap()
        self.gpu.reap()
        assert self.dev.counters()["objects"] == 0, self.dev.counters()
        assert self.phys.nr_pinned() == 0
        assert self.phys.nr_used() == 0
