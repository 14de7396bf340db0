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

Data moves in bulk, never byte by byte, in :mod:`.blit_rows` (one linear copy, one strided
numpy assignment, or run pieces row by row).  Overlapping source and destination rectangles
are not given a defined result (the hardware copies rows top to bottom, so a downward overlap
is the caller's problem there too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .blit_rows import ROP_COLOR_COPY, ROP_SRC_COPY, Rows, copy_rows, fill_rows, rop3
from .blit_tiled import TILING_NONE, TILING_X, Surface, blit_tiled
from .hang import GpuHang
from .mi import ADDR_MASK, GpuMemory

if TYPE_CHECKING:
    from .cmdparser import CsState

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
            new = rop3(rop, None, s, d)
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
