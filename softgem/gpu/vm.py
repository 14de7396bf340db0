"""A GPU address space (``struct i915_address_space``): a range allocator plus page tables.

The page tables are modelled per binding, not per page: binding a vma records a
:class:`Ptes` (where each coalesced segment of the object's pages lives in ``phys.flat``, and
whether the PTEs are read-only); the GPU translates an address by finding the vma whose node
contains it (bisect over the allocator's snapshot) and walking that vma's segments.  Anything
not covered by a bound vma maps the scratch page, as gen9 PPGTT does for unused ranges: reads
return zeros and writes vanish.  Writes through read-only PTEs vanish too (on the hardware
they are discarded; the kernel relies on that for ``I915_USERPTR_READ_ONLY``).

:meth:`AddressSpace.resolve` is the one translation primitive: it answers runs of
``(offset into phys.flat, nbytes, writable)`` with physically contiguous pages merged, so a
blit over a contiguous buffer is one slice per row, and a scratch run has offset ``-1``.
Every GPU access to a binding whose frames cache memory living elsewhere (a
:class:`PageWatch`, host mode's userptr) is announced there first: ``resolve`` and the
blitter's whole-page path are the only two ways to the frames.

Concurrency: ``mutex`` (class "gpu.vm_mutex", after the object lock in the lock order; never
held while waiting on a fence) serialises allocation, binding and the pin counts.  Readers
(``resolve``/``read``/``write``, i.e. the engines) take no lock: they read the allocator's
copy-on-write snapshot and each vma's ``ptes`` in single attribute loads, like the GPU reads
PTEs that the CPU rewrites under it.  A reader racing an unbind may see the old pages; that
is safe because the pages stay pinned until the unbind that waited for the reader's request.

State of a vma as the page walk sees it:

==============  ==========  =================================================
node allocated  ptes        the range reads as
==============  ==========  =================================================
no              None        scratch (no node in the snapshot)
yes             None        scratch (being bound, or being unbound)
yes             Ptes        the object's pages, then scratch past its end
==============  ==========  =================================================
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from .. import trace
from ..errors import ENOENT, SimBug
from ..sync import Mutex, WaitQueue
from ..sync import task as sync_task
from ..units import PAGE_SHIFT
from .drm_mm import DrmMM

if TYPE_CHECKING:
    from ..gem import GemObject, SgTable
    from .gpu import Gpu
    from .vma import GpuVma

__all__ = ["AddressSpace", "PageWatch", "Ptes", "Run", "SCRATCH"]

#: A run of ``resolve``: (byte offset into ``phys.flat`` or SCRATCH, nbytes, writable).
Run = tuple[int, int, bool]
SCRATCH = -1


class PageWatch(Protocol):
    """Frames that cache memory living elsewhere (host mode's userptr pages are the traced
    program's own).  The GPU layer only calls it; the owner of that memory implements it and
    plugs it in as ``gpu.page_watch``.  Every GPU access to a watched binding's frames is
    announced before the bytes move (:meth:`gpu_access`, byte offsets into ``phys.flat``);
    the engine brackets each request with :meth:`begin` and :meth:`flush` (on the engine's
    thread, before the request's fence signals), where the bytes the GPU wrote go home."""

    def covers(self, obj: GemObject) -> bool: ...

    def gpu_access(self, flat_off: int, n: int, write: bool, whole: bool) -> None:
        """``write``: the bytes may be written; ``whole``: every byte will be (no refresh)."""

    def gpu_copy(self, dst_rows: npt.NDArray[np.int64], src_rows: npt.NDArray[np.int64]
                 ) -> bool:
        """The GPU copies whole frames ``src_rows`` onto ``dst_rows`` (both watched): True
        if the watch moved the bytes itself (the caller then does nothing), False to let
        the GPU copy the frames after announcing the accesses."""

    def begin(self) -> None: ...

    def flush(self) -> None: ...


class Ptes:
    """The page-table entries of one bound vma, as the page walk needs them."""

    __slots__ = ("nbytes", "seg_flat", "seg_off", "watch", "writable")

    def __init__(self, pages: SgTable, base_pfn: int, writable: bool,
                 watch: PageWatch | None = None) -> None:
        offs: list[int] = []
        flat: list[int] = []
        pos = 0
        for seg in pages.segments:
            offs.append(pos)
            flat.append((seg.pfn - base_pfn) << PAGE_SHIFT)
            pos += seg.npages << PAGE_SHIFT
        self.seg_off = offs        # byte offset of each segment within the object
        self.seg_flat = flat       # byte offset of each segment within phys.flat
        self.nbytes = pos
        self.writable = writable
        self.watch = watch         # set when the frames cache memory living elsewhere

    def runs(self, off: int, n: int) -> Iterator[tuple[int, int]]:
        """(flat offset, nbytes) covering object bytes ``[off, off + n)``, n > 0, in range."""
        i = bisect.bisect_right(self.seg_off, off) - 1
        end = off + n
        seg_off, seg_flat = self.seg_off, self.seg_flat
        last = len(seg_off) - 1
        while off < end:
            seg_end = seg_off[i + 1] if i < last else self.nbytes
            take = min(end, seg_end) - off
            yield seg_flat[i] + off - seg_off[i], take
            off += take
            i += 1


class AddressSpace:
    """One GPU virtual address space: ``[0, total)`` bytes."""

    def __init__(self, gpu: Gpu, name: str, total: int, *, has_read_only: bool,
                 is_ggtt: bool = False) -> None:
        self.gpu = gpu
        self.name = name
        self.total = total
        self.has_read_only = has_read_only
        self.is_ggtt = is_ggtt
        self.phys = gpu.dev.phys
        self.flat: npt.NDArray[np.uint8] = self.phys.data.reshape(-1)
        self.mutex = Mutex("gpu.vm_mutex")
        self.mm = DrmMM(0, total)
        self.retire_wq = WaitQueue(f"gpu.vm {name} retire")
        # obj.id -> its vma in this space (bound or not), least recently used first.
        self._vmas: OrderedDict[int, GpuVma] = OrderedDict()
        self._closed: list[GpuVma] = []       # closed but still bound (busy or pinned)
        self.nr_evictions = 0     # vmas unbound to make room (statistics)
        self.closed = False
        self.refs = 1            # contexts and VM ids holding this space (Gpu.vm_put)
        gpu.add_space(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} total={self.total:#x}>"

    # -- vma instances (``i915_vma_instance``) -------------------------------------------
    def instance(self, obj: GemObject, *, readonly: bool | None = None) -> GpuVma:
        """The vma of ``obj`` in this space, created unbound on first use (ENOENT once the
        space is closed)."""
        from .vma import GpuVma

        with self.mutex:
            if self.closed:
                raise ENOENT(f"{self!r} was closed (its context or VM id is gone)")
            vma = self._vmas.get(obj.id)
            if vma is None:
                ro = obj.readonly if readonly is None else readonly
                vma = GpuVma(obj, self, readonly=ro)
                self._vmas[obj.id] = vma
                self.gpu.vma_created(vma)
            return vma

    def lookup(self, obj: GemObject) -> GpuVma | None:
        with self.mutex:
            return self._vmas.get(obj.id)

    def close_vma_locked(self, vma: GpuVma) -> None:
        """The object's handle went away here (``i915_vma_close``): the instance leaves the
        table; a bound one waits in ``_closed`` until it is idle and reaped or evicted.
        Caller holds ``mutex``."""
        if vma.closed:
            return
        vma.closed = True
        if self._vmas.get(vma.obj_id) is vma:
            del self._vmas[vma.obj_id]
        if vma.bound:
            self._closed.append(vma)
        else:
            self.gpu.vma_destroyed(vma)

    def destroy_closed_locked(self, vma: GpuVma) -> None:
        """A closed vma was just unbound: it is gone for good.  Caller holds ``mutex``."""
        if vma in self._closed:
            self._closed.remove(vma)
        self.gpu.vma_destroyed(vma)

    def closed_vmas_locked(self) -> list[GpuVma]:
        return list(self._closed)

    def closed_vmas_count(self) -> int:
        return len(self._closed)

    def eviction_order_locked(self) -> list[GpuVma]:
        """Closed vmas first, then the rest least recently used first."""
        return [*self._closed, *self._vmas.values()]

    def touch_locked(self, vma: GpuVma) -> None:
        """Mark ``vma`` most recently used (eviction takes the least recently used)."""
        if self._vmas.get(vma.obj_id) is vma:
            self._vmas.move_to_end(vma.obj_id)

    def vmas(self) -> list[GpuVma]:
        """Every instance, least recently used first."""
        with self.mutex:
            return list(self._vmas.values())

    def vmas_locked(self) -> list[GpuVma]:
        return list(self._vmas.values())

    def release_closed(self, wait: bool) -> None:
        """Unbind the closed vmas that are (or, with ``wait``, become) idle and unpinned.

        With ``wait`` call it without locks held (it takes object locks and waits for the
        GPU); without, object locks are only tried.
        """
        with self.mutex:
            pending = [(v, v.obj.get_unless_zero()) for v in self._closed]
        for vma, ref in pending:
            if ref is None:
                continue
            try:
                # Waiting callers (file release) hold no lock; the others may hold some
                # object's lock, so they only try (a contended vma is reaped later).
                if wait and not ref.lock.held_by_me():
                    with ref.lock:
                        self._release_one(vma, wait)
                elif not wait and ref.lock.trylock():
                    try:
                        self._release_one(vma, wait)
                    finally:
                        ref.lock.unlock()
            finally:
                ref.put()

    def _release_one(self, vma: GpuVma, wait: bool) -> None:
        if wait:
            vma.wait_idle()
        with self.mutex:
            if vma.bound and not vma.pin_count and not vma.active:
                vma.unbind_locked()

    def close(self) -> None:
        """Nothing refers to this space any more (``i915_vm_close``): close every vma.
        Nothing waits here; :meth:`Gpu.reap` unbinds them once the GPU is done."""
        with self.mutex:
            if self.closed:
                return
            self.closed = True
            for vma in list(self._vmas.values()):
                self.close_vma_locked(vma)

    # -- page tables (``vm->bind_vma`` / ``vm->unbind_vma``) ------------------------------
    def bind(self, vma: GpuVma) -> None:
        """Write the PTEs of ``vma`` (node allocated, pages set); caller holds ``mutex``."""
        if vma.node is None or not vma.node.allocated or vma.pages is None:
            raise SimBug(f"bind of {vma!r} without a node or pages")
        writable = not (vma.readonly and self.has_read_only)
        watch: PageWatch | None = getattr(self.gpu, "page_watch", None)
        if watch is not None and not watch.covers(vma.obj):
            watch = None
        vma.ptes = Ptes(vma.pages, self.phys.base_pfn, writable, watch)
        if trace.enabled:
            trace.emit("gpu", "bind", vm=self.name, obj=vma.obj_id, start=vma.node.start,
                       size=vma.node.size, ro=not writable)

    def unbind(self, vma: GpuVma) -> None:
        """Point the PTEs of ``vma`` back at scratch; caller holds ``mutex``."""
        vma.ptes = None
        if trace.enabled and vma.node is not None:
            trace.emit("gpu", "unbind", vm=self.name, obj=vma.obj_id, start=vma.node.start)

    # -- the GPU's view ----------------------------------------------------------------------
    def vma_at(self, gpu_addr: int) -> GpuVma | None:
        """The bound vma whose node contains ``gpu_addr``."""
        node = self.mm.node_at(gpu_addr)
        if node is None:
            return None
        vma: GpuVma | None = node.owner
        return vma if vma is not None and vma.ptes is not None else None

    def resolve(self, gpu_addr: int, length: int, write: bool = False) -> list[Run]:
        """Runs covering ``[gpu_addr, gpu_addr + length)`` in order (see the module doc)."""
        runs: list[Run] = []
        starts, nodes = self.mm.snapshot
        addr, end = gpu_addr, gpu_addr + length
        while addr < end:
            i = bisect.bisect_right(starts, addr) - 1
            node = nodes[i] if i >= 0 else None
            if node is None or addr >= node.end:
                limit = min(end, starts[i + 1]) if i + 1 < len(starts) else end
                _add(runs, SCRATCH, limit - addr, False)
                addr = limit
                continue
            limit = min(end, node.end)
            vma = node.owner
            ptes: Ptes | None = vma.ptes if vma is not None else None
            off = addr - node.start
            if ptes is None or off >= ptes.nbytes:
                _add(runs, SCRATCH, limit - addr, False)
                addr = limit
                continue
            mapped = min(limit - addr, ptes.nbytes - off)
            watch = ptes.watch
            for flat_off, n in ptes.runs(off, mapped):
                if watch is not None and (ptes.writable or not write):
                    watch.gpu_access(flat_off, n, write, False)
                _add(runs, flat_off, n, ptes.writable)
            addr += mapped
        if sync_task.runtime is not None:     # explored: checkers see what the GPU touches
            sync_task.observe("gpu.access", self, runs)
        return runs

    def read(self, gpu_addr: int, n: int) -> npt.NDArray[np.uint8]:
        """``n`` bytes as the GPU reads them (a fresh array; scratch reads as zeros)."""
        out = np.empty(n, dtype=np.uint8)
        pos = 0
        flat = self.flat
        for off, k, _ in self.resolve(gpu_addr, n):
            if off == SCRATCH:
                out[pos:pos + k] = 0
            else:
                out[pos:pos + k] = flat[off:off + k]
            pos += k
        return out

    def write(self, gpu_addr: int, data: Any) -> None:
        """Store ``data`` (bytes-like or uint8 array) as the GPU would: bytes aimed at scratch
        or through read-only PTEs are dropped silently."""
        src = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else \
            data.reshape(-1).view(np.uint8)
        pos = 0
        flat = self.flat
        for off, k, writable in self.resolve(gpu_addr, len(src), write=True):
            if writable:
                flat[off:off + k] = src[pos:pos + k]
            pos += k

    def read_u32(self, gpu_addr: int) -> int:
        return int(self.read(gpu_addr, 4).view("<u4")[0])

    # -- accounting ----------------------------------------------------------------------
    def nr_bound(self) -> int:
        with self.mutex:
            return sum(1 for v in self.eviction_order_locked() if v.bound)

    def pinned_size(self) -> int:
        with self.mutex:
            return sum(v.node.size for v in self.eviction_order_locked()
                       if v.pin_count and v.bound)


def _add(runs: list[Run], off: int, n: int, writable: bool) -> None:
    """Append a run, merging it into the previous one when they are contiguous."""
    if runs:
        p_off, p_n, p_w = runs[-1]
        if p_w == writable and ((off == SCRATCH and p_off == SCRATCH) or
                                (off != SCRATCH and p_off != SCRATCH and p_off + p_n == off)):
            runs[-1] = (p_off, p_n + n, p_w)
            return
    runs.append((off, n, writable))

