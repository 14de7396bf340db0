"""``softgem bench blit``: a GPU blit between two userptrs against numpy copying the same bytes.

One process maps two anonymous buffers of 64 MiB (16 MiB with ``--quick``), fills the source,
and wraps both in userptr objects.  In the same run, alternating rounds (``best_rates``):

* GPU: one XY_SRC_COPY_BLT (32 bpp, 4096 px x 4096 rows, pitch 16 KiB: the whole buffer as one
  dense rectangle) on the copy engine, read and written through the PPGTT page tables, timed
  from submit to the request's fence signalling (engine thread hand-off included);
* numpy: the process's own memory as numpy views of its frames (found through its page tables),
  copied run by run, each run a stretch where both buffers' frames are physically
  consecutive -- the strongest honest baseline: the same memcpy with no translation at all;
* numpy per page: the same, one 4 KiB frame at a time.

The GPU is compared with the faster of the two numpy copies.

Two layouts, each with its ratio (both must reach the target): contiguous frames (pages
faulted in address order: the allocator hands out consecutive frames, one run) and scattered
frames (pages faulted in a shuffled order: every page its own run, as in a long-lived
process).  The GPU moves a dense rectangle as one slice per run pair, or, over scattered
whole pages, as one numpy gather/scatter of frame rows.

The batch, the bindings and the userptr validation are built directly on the GPU layer
(AddressSpace, GpuVma, Request) rather than through EXECBUFFER2, so only the command streamer
and the data movement are timed.  Target: GPU >= 0.5x numpy's bandwidth.
"""

from __future__ import annotations

import random

import numpy as np

from ..gem import GemObject, shmem_create, submit_init, userptr_create
from ..gpu import (
    ENGINE_CLASS_COPY,
    MI_BATCH_BUFFER_END,
    PIN_USER,
    GpuVma,
    Ppgtt,
    Request,
    attach,
    setup_engines,
    xy_src_copy_blt,
)
from ..machine import Machine
from ..posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from ..units import PAGE_SHIFT, PAGE_SIZE
from .runner import BenchResult
from .timing import best_rates

__all__ = ["bench_blit"]

PITCH = 16384            # bytes per row: 4096 pixels of 32 bpp (BR13 pitch is signed 16-bit)


class _Setup:
    """The machine, the two userptrs bound in one PPGTT, and a blit batch."""

    def __init__(self, size: int, *, scatter: bool = False) -> None:
        self.size = size
        self.machine = Machine(memory=3 * size + (64 << 20))
        self.proc = self.machine.spawn("blit-bench")
        mm = self.proc.mm
        self.src = self.proc.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        self.dst = self.proc.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        if scatter:
            self._fault_shuffled()
        pattern = np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes()
        self.proc.write(self.src, pattern)
        self.proc.write(self.dst, bytes(size))
        dev = self.machine.device
        self.gpu = attach(dev)
        self.engine = setup_engines(self.gpu)[(ENGINE_CLASS_COPY, 0)]
        self.file = dev.open(0)
        self.vm = Ppgtt(self.gpu, "blit-bench")
        self.vmas: list[GpuVma] = []
        for ptr in (self.src, self.dst):
            obj = self.file.lookup(userptr_create(dev, self.file, mm, ptr, size, 0))
            submit_init(obj, mm)
            self.vmas.append(self._bind(obj))
        batch_obj = shmem_create(dev, PAGE_SIZE)
        self.batch = self._bind(batch_obj)
        rows = size // PITCH
        blit = xy_src_copy_blt(self.vmas[1].start, PITCH, 0, 0, self.vmas[0].start, PITCH, 0,
                               0, PITCH // 4, rows)
        cmd = [*blit, MI_BATCH_BUFFER_END]
        self.vm.write(self.batch.start, np.array(cmd, dtype="<u4"))

    def _fault_shuffled(self) -> None:
        """Fault both buffers' pages in a shuffled order: physically scattered frames."""
        pages = [b + i * PAGE_SIZE for b in (self.src, self.dst)
                 for i in range(self.size // PAGE_SIZE)]
        random.Random(3).shuffle(pages)
        for addr in pages:
            self.proc.write(addr, b"\0")

    def _bind(self, obj: GemObject) -> GpuVma:
        vma = self.vm.instance(obj)
        vma.pin(flags=PIN_USER)
        return vma

    # -- the contenders -----------------------------------------------------------------------
    def gpu_blit(self) -> int:
        rq = Request(None, self.engine, self.batch.start, PAGE_SIZE, vm=self.vm)
        self.engine.submit(rq)
        rq.wait()
        if rq.error:
            raise RuntimeError(f"blit request failed: errno {rq.error}")
        return self.size

    def frame_rows(self, start: int) -> np.ndarray:
        """Row index in ``phys.data`` of each page of ``[start, start + size)``."""
        pages = self.proc.mm.resident_pages(start, start + self.size)
        base = self.machine.phys.base_pfn
        return np.array([pfn - base for _, pfn in pages], dtype=np.int64)

    def runs(self) -> list[tuple[int, int, int]]:
        """(src row, dst row, npages): stretches where both sides are physically consecutive."""
        s, d = self.frame_rows(self.src), self.frame_rows(self.dst)
        breaks = np.flatnonzero((np.diff(s) != 1) | (np.diff(d) != 1)) + 1
        starts = np.concatenate(([0], breaks))
        ends = np.concatenate((breaks, [len(s)]))
        return [(int(s[a]), int(d[a]), int(b - a)) for a, b in zip(starts, ends, strict=True)]

    def teardown(self) -> dict[str, int]:
        assert self.engine.wait_idle(60)
        self.engine.fini()
        for vma in [*self.vmas, self.batch]:
            vma.unpin()
            vma.unbind()
            vma.obj.put()
        self.gpu.reap()
        self.file.release()
        self.proc.exit()
        self.gpu.reap()
        return self.machine.counters().leaks()


def _numpy_runs(data: np.ndarray, runs: list[tuple[int, int, int]], size: int) -> int:
    for s, d, n in runs:
        data[d:d + n] = data[s:s + n]
    return size


def _numpy_pages(data: np.ndarray, src: np.ndarray, dst: np.ndarray, size: int) -> int:
    for s, d in zip(src.tolist(), dst.tolist(), strict=True):
        data[d] = data[s]
    return size


def _measure(size: int, rounds: int, scatter: bool) -> tuple[dict[str, float], int, bool,
                                                              dict[str, int]]:
    """Rates (bytes/s) of the three contenders on one layout; runs; data check; leaks."""
    setup = _Setup(size, scatter=scatter)
    data = setup.machine.phys.data
    runs = setup.runs()
    src_rows, dst_rows = setup.frame_rows(setup.src), setup.frame_rows(setup.dst)
    setup.gpu_blit()
    ok = setup.proc.read(setup.dst, size) == setup.proc.read(setup.src, size)
    rates = best_rates({
        "gpu": setup.gpu_blit,
        "numpy": lambda: _numpy_runs(data, runs, size),
        "numpy-pages": lambda: _numpy_pages(data, src_rows, dst_rows, size),
    }, rounds)
    return rates, len(runs), ok, setup.teardown()


def bench_blit(quick: bool) -> BenchResult:
    size, rounds = (16 << 20, 3) if quick else (64 << 20, 5)
    res = BenchResult(f"XY_SRC_COPY_BLT of {size >> 20} MiB between two userptrs")
    mib = float(1 << 20)
    verdicts: list[tuple[str, float]] = []
    for layout, scatter in (("scattered frames", True), ("contiguous frames", False)):
        rates, nruns, ok, leaks = _measure(size, rounds, scatter)
        res.add(f"{layout}: GPU blit through the PPGTT", f"{rates['gpu'] / mib:,.0f} MiB/s")
        res.add(f"{layout}: numpy, physically contiguous runs",
                f"{rates['numpy'] / mib:,.0f} MiB/s")
        res.add(f"{layout}: numpy, one 4 KiB frame at a time",
                f"{rates['numpy-pages'] / mib:,.0f} MiB/s")
        res.add(f"{layout}: runs in the copy", f"{nruns} for {size >> PAGE_SHIFT} pages")
        res.add(f"{layout}: destination equals source", "yes" if ok else "NO")
        if leaks:
            res.notes.append(f"[red]{layout}: leaked after teardown: {leaks}[/]")
        best_numpy = max(rates["numpy"], rates["numpy-pages"])
        good = ok and not leaks and best_numpy > 0
        verdicts.append((layout, rates["gpu"] / best_numpy if good else 0.0))
    for layout, ratio in verdicts:
        res.ratio(f"GPU blit / numpy bandwidth ({layout})", ratio, 0.5)
    return res
