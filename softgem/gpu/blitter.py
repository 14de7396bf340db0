"""The 2D blitter (client 2, the BCS engine): XY_SETUP_CLIP_BLT, XY_COLOR_BLT, XY_SRC_COPY_BLT,
XY_FAST_COPY_BLT in their gen8+ (64-bit address) forms.

Layouts (IGT ``lib/intel_batchbuffer.c``, ``gt/intel_gpu_commands.h``), one dword per row:

=====  ==========================  =======================  ===========================
dword  XY_SRC_COPY_BLT (10)        XY_COLOR_BLT (7)         XY_FAST_COPY_BLT (10)
=====  ==========================  =======================  ===========================
0      header; 21:20 write A/RGB;  header; 21:20 A/RGB      header; 21:20 src tiling;
       15 src tiled, 11 dst tiled                           14:13 dst tiling
1      BR13: 30 clip enable,       BR13 (same)              31:30 Yf tiling; 26:24 depth
       25:24 depth, 23:16 ROP,                              (0=8 1=16 3=32 4=64 5=128 bpp);
       15:0 dst pitch (signed)                              15:0 dst pitch
2, 3   dst y1:x1, y2:x2            dst y1:x1, y2:x2         dst y1:x1, y2:x2
4, 5   dst address lo, hi          dst address lo, hi       dst address lo, hi
6      src y1:x1                   fill colour              src y1:x1
7      src pitch (signed)                                   src pitch
8, 9   src address lo, hi                                   src address lo, hi
=====  ==========================  =======================  ===========================

Coordinates are signed 16-bit, the bottom-right corner is exclusive; BR13 depth 0 = 8 bpp,
1/2 = 16 bpp (565/1555), 3 = 32 bpp, where bit 21 writes the alpha byte and bit 20 the three
colour bytes.  With BR13 bit 30 the destination is clipped to the rectangle of the last
XY_SETUP_CLIP_BLT (3 dwords: header, y1:x1, y2:x2, taken as exclusive like the destination
rectangle -- an assumption: the PRMs we could check do not say).  The ROP is a full ROP3 of
pattern (the fill colour), source and destination.  Tiled surfaces (the tiling bits above)
are addressed as the fence detiles them, in :mod:`.blit_tiled`; XY_FAST_COPY's Yf and Ys
layouts are not modelled and stop the engine like an invalid command (the request ends with
EIO) rather than writing wrongly placed data.

Data moves in bulk, never byte by byte (helpers at the end of this module): a plain copy of a
dense rectangle (pitch == row bytes on both sides) is one linear copy -- one slice per pair of
overlapping runs, or, for whole pages over scattered frames, one numpy gather/scatter of
frame rows; a rectangle whose source and destination each lie in one physically contiguous
run is one strided numpy assignment; any other rectangle goes row by row, each row in run
pieces.  Writes through read-only PTEs or to scratch are dropped, reads from scratch give
zeros (``AddressSpace.resolve`` says which).  Overlapping source and destination rectangles
are not given a defined result (the hardware copies rows top to bottom, so a downward overlap
is the caller's problem there too): the bulk paths copy as if through a temporary, the
row-by-row path row after row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..units import PAGE_SIZE
from .blit_tiled import TILING_NONE, TILING_X, Surface, blit_tiled
from .hang import GpuHang
from .mi import ADDR_MASK, GpuMemory

if TYPE_CHECKING:
    from .cmdparser import CsState
    from .vm import PageWatch

__all__ = [
    "BLT_WRITE_ALPHA", "BLT_WRITE_RGB", "BLT_WRITE_RGBA", "BR13_CLIP_ENABLE", "ROP_COLOR_COPY",
    "ROP_SRC_COPY", "XY_COLOR_BLT_CMD", "XY_FAST_COPY_BLT", "XY_SETUP_CLIP_BLT_CMD",
    "XY_SRC_COPY_BLT_CMD", "xy_color_blt", "xy_fast_copy_blt", "xy_setup_clip_blt",
    "xy_src_copy_blt",
]

XY_SETUP_CLIP_BLT_CMD = (2 << 29) | (0x03 << 22) | 1
XY_COLOR_BLT_CMD = (2 << 29) | (0x50 << 22) | 5
XY_SRC_COPY_BLT_CMD = (2 << 29) | (0x53 << 22) | 8
XY_FAST_COPY_BLT = (2 << 29) | (0x42 << 22) | 8
OP_SETUP_CLIP, OP_COLOR, OP_SRC_COPY, OP_FAST_COPY = 0x03, 0x50, 0x53, 0x42

BLT_WRITE_ALPHA = 1 << 21
BLT_WRITE_RGB = 1 << 20
BLT_WRITE_RGBA = BLT_WRITE_ALPHA | BLT_WRITE_RGB
XY_SRC_COPY_BLT_SRC_TILED = 1 << 15
XY_SRC_COPY_BLT_DST_TILED = 1 << 11
BR13_CLIP_ENABLE = 1 << 30
ROP_SRC_COPY = 0xCC
ROP_COLOR_COPY = 0xF0
_BR13_CPP = {0: 1, 1: 2, 2: 2, 3: 4}
_BR13_DEPTH = {1: 0, 2: 1, 4: 3}
_FAST_CPP = {0: 1, 1: 2, 3: 4, 4: 8, 5: 16}
_FAST_DEPTH = {v: k for k, v in _FAST_CPP.items()}


# -- encoders -----------------------------------------------------------------------------
def _yx(x: int, y: int) -> int:
    return ((y & 0xFFFF) << 16) | (x & 0xFFFF)


def _lo_hi(addr: int) -> list[int]:
    return [addr & 0xFFFFFFFF, (addr >> 32) & 0xFFFF]


def xy_src_copy_blt(dst: int, dst_pitch: int, dx: int, dy: int, src: int, src_pitch: int,
                    sx: int, sy: int, w: int, h: int, *, cpp: int = 4, rop: int = ROP_SRC_COPY,
                    clip: bool = False, write: int = BLT_WRITE_RGBA) -> list[int]:
    """XY_SRC_COPY_BLT as IGT's igt_blitter_src_copy emits it (linear surfaces)."""
    br13 = (_BR13_DEPTH[cpp] << 24) | (rop << 16) | (dst_pitch & 0xFFFF)
    head = XY_SRC_COPY_BLT_CMD | (write if cpp == 4 else 0)
    return [head, br13 | (BR13_CLIP_ENABLE if clip else 0), _yx(dx, dy), _yx(dx + w, dy + h),
            *_lo_hi(dst), _yx(sx, sy), src_pitch & 0xFFFF, *_lo_hi(src)]


def xy_color_blt(dst: int, pitch: int, x: int, y: int, w: int, h: int, color: int, *,
                 cpp: int = 4, rop: int = ROP_COLOR_COPY, clip: bool = False,
                 write: int = BLT_WRITE_RGBA) -> list[int]:
    br13 = (_BR13_DEPTH[cpp] << 24) | (rop << 16) | (pitch & 0xFFFF)
    head = XY_COLOR_BLT_CMD | (write if cpp == 4 else 0)
    return [head, br13 | (BR13_CLIP_ENABLE if clip else 0), _yx(x, y), _yx(x + w, y + h),
            *_lo_hi(dst), color & 0xFFFFFFFF]


def xy_fast_copy_blt(dst: int, dst_pitch: int, dx: int, dy: int, src: int, src_pitch: int,
                     sx: int, sy: int, w: int, h: int, *, cpp: int = 4) -> list[int]:
    """XY_FAST_COPY_BLT as IGT's igt_blitter_fast_copy__raw emits it (linear surfaces)."""
    return [XY_FAST_COPY_BLT, (_FAST_DEPTH[cpp] << 24) | (dst_pitch & 0xFFFF), _yx(dx, dy),
            _yx(dx + w, dy + h), *_lo_hi(dst), _yx(sx, sy), src_pitch & 0xFFFF, *_lo_hi(src)]


def xy_setup_clip_blt(x1: int, y1: int, x2: int, y2: int) -> list[int]:
    return [XY_SETUP_CLIP_BLT_CMD, _yx(x1, y1), _yx(x2, y2)]


# -- decoding helpers ------------------------------------------------------------------------
def _s16(v: int) -> int:
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


def _xy(dw: int) -> tuple[int, int]:
    return _s16(dw), _s16(dw >> 16)


def _addr(lo: int, hi: int) -> int:
    return ((hi & 0xFFFF) << 32 | lo) & ADDR_MASK


def _need(cmd: list[int], n: int, what: str, pc: int) -> None:
    if len(cmd) != n:
        raise GpuHang(f"{what} with {len(cmd)} dwords (the gen8+ form has {n})", pc)


def _write_mask(head: int, cpp: int) -> npt.NDArray[np.bool_] | None:
    """Which bytes of a pixel are written (32 bpp byte enables); None = all of them."""
    if cpp != 4 or head & BLT_WRITE_RGBA == BLT_WRITE_RGBA:
        return None
    rgb, alpha = bool(head & BLT_WRITE_RGB), bool(head & BLT_WRITE_ALPHA)
    return np.array([rgb, rgb, rgb, alpha])


# -- the commands ---------------------------------------------------------------------------
def exec_setup_clip(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    _need(cmd, 3, "XY_SETUP_CLIP_BLT", pc)
    state.clip = (*_xy(cmd[1]), *_xy(cmd[2]))


def _clip(state: CsState, br13: int, x1: int, y1: int, x2: int, y2: int
          ) -> tuple[int, int, int, int]:
    if not br13 & BR13_CLIP_ENABLE:
        return x1, y1, x2, y2
    cx1, cy1, cx2, cy2 = state.clip
    return max(x1, cx1), max(y1, cy1), min(x2, cx2), min(y2, cy2)


def exec_color_blt(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    _need(cmd, 7, "XY_COLOR_BLT", pc)
    head, br13 = cmd[0], cmd[1]
    cpp = _BR13_CPP[(br13 >> 24) & 3]
    ox1, oy1 = _xy(cmd[2])
    x1, y1, x2, y2 = _clip(state, br13, ox1, oy1, *_xy(cmd[3]))
    if x2 <= x1 or y2 <= y1:
        return
    mask = _write_mask(head, cpp)
    if mask is not None and not mask.any():
        return
    pitch = _s16(br13)
    dst = _addr(cmd[4], cmd[5]) + y1 * pitch + x1 * cpp
    color = np.array([cmd[6]], dtype="<u4").view(np.uint8)[:cpp]
    rows = Rows(dst, pitch, (x2 - x1) * cpp, y2 - y1)
    fill_rows(vm, rows, np.tile(color, x2 - x1), (br13 >> 16) & 0xFF, mask)
    state.bytes_written += rows.nbytes * rows.nrows


def exec_src_copy(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    _need(cmd, 10, "XY_SRC_COPY_BLT", pc)
    head, br13 = cmd[0], cmd[1]
    cpp = _BR13_CPP[(br13 >> 24) & 3]
    ox1, oy1 = _xy(cmd[2])
    x1, y1, x2, y2 = _clip(state, br13, ox1, oy1, *_xy(cmd[3]))
    if x2 <= x1 or y2 <= y1:
        return
    mask = _write_mask(head, cpp)
    if mask is not None and not mask.any():
        return
    sx, sy = _xy(cmd[6])
    sx, sy = sx + x1 - ox1, sy + y1 - oy1
    dpitch, spitch = _s16(br13), _s16(cmd[7])
    if head & (XY_SRC_COPY_BLT_SRC_TILED | XY_SRC_COPY_BLT_DST_TILED):
        dt = TILING_X if head & XY_SRC_COPY_BLT_DST_TILED else TILING_NONE
        st = TILING_X if head & XY_SRC_COPY_BLT_SRC_TILED else TILING_NONE
        rop = (br13 >> 16) & 0xFF

        def combine(s: npt.NDArray[np.uint8], d: npt.NDArray[np.uint8]
                    ) -> npt.NDArray[np.uint8]:
            new = _rop3(rop, None, s, d)
            return new if mask is None else np.where(np.resize(mask, d.shape[1]), new, d)

        blit_tiled(vm, Surface(_addr(cmd[4], cmd[5]), dpitch * 4 if dt else dpitch, dt),
                   x1 * cpp, y1, Surface(_addr(cmd[8], cmd[9]), spitch * 4 if st else spitch, st),
                   sx * cpp, sy, (x2 - x1) * cpp, y2 - y1,
                   None if rop == ROP_SRC_COPY and mask is None else combine)
        state.bytes_written += (x2 - x1) * cpp * (y2 - y1)
        return
    dst = Rows(_addr(cmd[4], cmd[5]) + y1 * dpitch + x1 * cpp, dpitch, (x2 - x1) * cpp, y2 - y1)
    src = Rows(_addr(cmd[8], cmd[9]) + sy * spitch + sx * cpp, spitch, dst.nbytes, dst.nrows)
    copy_rows(vm, dst, src, (br13 >> 16) & 0xFF, mask)
    state.bytes_written += dst.nbytes * dst.nrows


def exec_fast_copy(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    _need(cmd, 10, "XY_FAST_COPY_BLT", pc)
    st, dt = (cmd[0] >> 20) & 3, (cmd[0] >> 13) & 3
    if st == 3 or dt == 3 or cmd[1] & (3 << 30):
        raise GpuHang("XY_FAST_COPY_BLT with Yf/Ys tiling (not modelled)", pc)
    cpp = _FAST_CPP.get((cmd[1] >> 24) & 7)
    if cpp is None:
        raise GpuHang("XY_FAST_COPY_BLT with a reserved colour depth", pc)
    x1, y1 = _xy(cmd[2])
    x2, y2 = _xy(cmd[3])
    if x2 <= x1 or y2 <= y1:
        return
    sx, sy = _xy(cmd[6])
    dpitch, spitch = cmd[1] & 0xFFFF, cmd[7] & 0xFFFF
    if st or dt:
        blit_tiled(vm, Surface(_addr(cmd[4], cmd[5]), dpitch * 4 if dt else dpitch, dt),
                   x1 * cpp, y1, Surface(_addr(cmd[8], cmd[9]), spitch * 4 if st else spitch, st),
                   sx * cpp, sy, (x2 - x1) * cpp, y2 - y1)
        state.bytes_written += (x2 - x1) * cpp * (y2 - y1)
        return
    dst = Rows(_addr(cmd[4], cmd[5]) + y1 * dpitch + x1 * cpp, dpitch, (x2 - x1) * cpp, y2 - y1)
    src = Rows(_addr(cmd[8], cmd[9]) + sy * spitch + sx * cpp, spitch, dst.nbytes, dst.nrows)
    copy_rows(vm, dst, src, ROP_SRC_COPY, None)
    state.bytes_written += dst.nbytes * dst.nrows


# -- moving rectangles of bytes ----------------------------------------------------------------
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


def _rop3(rop: int, p: npt.NDArray[np.uint8] | None, s: npt.NDArray[np.uint8] | None,
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
        _combine(vm, dst.row(r), _rop3(rop, None, vm.read(src.row(r), dst.nbytes), d), mask)


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
        _combine(vm, dst.row(r), _rop3(rop, pattern, None, d), mask)
