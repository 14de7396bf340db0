"""Moving rectangles of bytes between GPU addresses, in bulk: the data paths of the
blitter's linear commands (:mod:`.blitter`).

A plain copy of a dense rectangle (pitch == row bytes on both sides) is one linear copy --
one slice per pair of overlapping runs, or, for whole pages over scattered frames, one numpy
gather/scatter of frame rows; a rectangle whose source and destination each lie in one
physically contiguous run is one strided numpy assignment; any other rectangle goes row by
row, each row in run pieces.  Writes through read-only PTEs or to scratch are dropped, reads
from scratch give zeros (``AddressSpace.resolve`` says which).  The bulk paths copy as if
through a temporary, the row-by-row path row after row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..units import PAGE_SIZE
from .mi import GpuMemory

if TYPE_CHECKING:
    from .vm import PageWatch

__all__ = ["ROP_COLOR_COPY", "ROP_SRC_COPY", "Rows", "copy_linear", "copy_rows", "fill_rows", "rop3"]

ROP_SRC_COPY = 0xCC
ROP_COLOR_COPY = 0xF0


class Rows:
    """``nrows`` rows of ``nbytes`` bytes, the first at GPU address ``addr``, ``pitch`` apart."""

    __slots__ = ("addr", "nbytes", "nrows", "pitch")

    def __init__(self, addr: int, pitch: int, nbytes: int, nrows: int) -> None:
        self.addr, self.pitch, self.nbytes, self.nrows = addr, pitch, nbytes, nrows

    def row(self, r: int) -> int:
        return self.addr + r * self.pitch

    def dense(self) -> bool:
        return self.pitch == self.nbytes or self.nrows == 1

    def span(self) -> tuple[int, int]:
        """The lowest address touched and the length of the whole footprint."""
        last = self.addr + (self.nrows - 1) * self.pitch
        lo = min(self.addr, last)
        return lo, max(self.addr, last) + self.nbytes - lo


def _single_run(vm: GpuMemory, rows: Rows, write: bool) -> npt.NDArray[np.uint8] | None:
    """A 2D view of ``rows`` when the whole footprint is one usable physical run."""
    lo, n = rows.span()
    runs = vm.resolve(lo, n, write)
    if len(runs) != 1 or runs[0][0] < 0 or (write and not runs[0][2]):
        return None
    off = runs[0][0] + rows.addr - lo
    return np.ndarray((rows.nrows, rows.nbytes), dtype=np.uint8, buffer=vm.flat, offset=off,
                      strides=(rows.pitch, 1))


def copy_linear(vm: GpuMemory, dst: int, src: int, n: int) -> None:
    """Copy ``n`` bytes between GPU addresses: one slice per pair of overlapping runs, or,
    for whole pages scattered over many frames, one numpy gather/scatter of frame rows."""
    if not (src | dst | n) & (PAGE_SIZE - 1):
        d_rows, d_watch = _bound_rows(vm, dst, n, True)
        s_rows, s_watch = _bound_rows(vm, src, n, False) if d_rows is not None else (None, None)
        if d_rows is not None and s_rows is not None and s_watch is not None and \
                s_watch is d_watch and s_watch.gpu_copy(d_rows, s_rows):
            return      # the watch moved the bytes itself (straight from where they live)
        if d_watch is not None and d_rows is not None:
            _announce(d_watch, d_rows, True)
        if s_watch is not None and s_rows is not None:
            _announce(s_watch, s_rows, False)
        if d_rows is not None and s_rows is not None and not (
                _consecutive(d_rows) and _consecutive(s_rows)):
            frames = vm.flat.reshape(-1, PAGE_SIZE)
            frames[d_rows] = frames[s_rows]
            return
    s_runs = vm.resolve(src, n, False)
    d_runs = vm.resolve(dst, n, True)
    flat = vm.flat
    si = di = 0
    s_off, s_n, _ = s_runs[0]
    d_off, d_n, d_w = d_runs[0]
    while True:
        take = min(s_n, d_n)
        if d_w:
            if s_off < 0:
                flat[d_off:d_off + take] = 0
            else:
                flat[d_off:d_off + take] = flat[s_off:s_off + take]
        s_n -= take
        d_n -= take
        if s_n == 0:
            si += 1
            if si == len(s_runs):
                return
            s_off, s_n, _ = s_runs[si]
        elif s_off >= 0:
            s_off += take
        if d_n == 0:
            di += 1
            d_off, d_n, d_w = d_runs[di]
        elif d_off >= 0:
            d_off += take


def _consecutive(rows: npt.NDArray[np.int64]) -> bool:
    return int(rows[-1]) - int(rows[0]) == len(rows) - 1 and bool(
        (np.diff(rows) == 1).all())


# Frame rows of every page of a binding, by its (immutable) Ptes: id -> (ptes, rows).  The
# entry holds the Ptes, so its id cannot be reused while cached; a rebind makes new Ptes.
_rows_cache: dict[int, tuple[object, npt.NDArray[np.int64]]] = {}
_ROWS_CACHE_MAX = 64


def _bound_rows(vm: GpuMemory, addr: int, n: int, write: bool
                ) -> tuple[npt.NDArray[np.int64] | None, PageWatch | None]:
    """The frame row of each page of ``[addr, addr + n)`` when one bound vma maps all of it
    (writably, if ``write``), with the binding's PageWatch; None otherwise (the caller walks
    ``resolve`` runs instead).  The caller announces the access to the watch."""
    vma = vm.vma_at(addr)
    ptes = vma.ptes if vma is not None else None
    if vma is None or ptes is None or (write and not ptes.writable):
        return None, None
    off = addr - vma.node.start
    if off + n > ptes.nbytes:
        return None, None
    cached = _rows_cache.get(id(ptes))
    if cached is None or cached[0] is not ptes:
        seg_off = np.array(ptes.seg_off, dtype=np.int64) // PAGE_SIZE
        counts = np.diff(np.append(seg_off, ptes.nbytes // PAGE_SIZE))
        rows = np.repeat(np.array(ptes.seg_flat, dtype=np.int64) // PAGE_SIZE - seg_off, counts)
        rows += np.arange(len(rows), dtype=np.int64)
        if len(_rows_cache) >= _ROWS_CACHE_MAX:
            _rows_cache.clear()
        cached = _rows_cache[id(ptes)] = (ptes, rows)
    watch: PageWatch | None = getattr(ptes, "watch", None)   # frames caching other memory
    return cached[1][off // PAGE_SIZE:(off + n) // PAGE_SIZE], watch


def _announce(watch: PageWatch, rows: npt.NDArray[np.int64], write: bool) -> None:
    """Tell ``watch`` of whole-page accesses, one call per run of consecutive frames."""
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    for chunk in np.split(rows, breaks):
        watch.gpu_access(int(chunk[0]) * PAGE_SIZE, len(chunk) * PAGE_SIZE, write, write)


def rop3(rop: int, p: npt.NDArray[np.uint8] | None, s: npt.NDArray[np.uint8] | None,
          d: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """ROP3 bit i set <=> result 1 for pattern=(i>>2)&1, source=(i>>1)&1, dest=i&1."""
    zero = np.zeros_like(d)
    pat = p if p is not None else zero
    sv = s if s is not None else zero
    out = np.zeros_like(d)
    for i in range(8):
        if rop >> i & 1:
            term = (pat if i & 4 else ~pat) & (sv if i & 2 else ~sv) & (d if i & 1 else ~d)
            out |= term
    return out


def _combine(vm: GpuMemory, addr: int, new: npt.NDArray[np.uint8],
             mask: npt.NDArray[np.bool_] | None) -> None:
    if mask is not None:
        old = vm.read(addr, len(new))
        new = np.where(np.resize(mask, len(new)), new, old)
    vm.write(addr, new)


def copy_rows(vm: GpuMemory, dst: Rows, src: Rows, rop: int,
              mask: npt.NDArray[np.bool_] | None) -> None:
    """The source rectangle onto the destination through ROP3 ``rop`` and byte ``mask``."""
    if rop == ROP_SRC_COPY and mask is None:
        if dst.dense() and src.dense() and dst.pitch == src.pitch and dst.pitch > 0:
            copy_linear(vm, dst.addr, src.addr, dst.nbytes * dst.nrows)
            return
        d2 = _single_run(vm, dst, True)
        s2 = _single_run(vm, src, False) if d2 is not None else None
        if d2 is not None and s2 is not None:
            d2[...] = s2
            return
        for r in range(dst.nrows):
            copy_linear(vm, dst.row(r), src.row(r), dst.nbytes)
        return
    for r in range(dst.nrows):
        d = vm.read(dst.row(r), dst.nbytes)
        _combine(vm, dst.row(r), rop3(rop, None, vm.read(src.row(r), dst.nbytes), d), mask)


def fill_rows(vm: GpuMemory, dst: Rows, pattern: npt.NDArray[np.uint8], rop: int,
              mask: npt.NDArray[np.bool_] | None) -> None:
    """Fill every row with ``pattern`` (one row of pixels) through ROP3 ``rop``."""
    if rop == ROP_COLOR_COPY and mask is None:
        d2 = _single_run(vm, dst, True)
        if d2 is not None:
            d2[...] = pattern
            return
        for r in range(dst.nrows):
            vm.write(dst.row(r), pattern)
        return
    for r in range(dst.nrows):
        d = vm.read(dst.row(r), dst.nbytes)
        _combine(vm, dst.row(r), rop3(rop, pattern, None, d), mask)
