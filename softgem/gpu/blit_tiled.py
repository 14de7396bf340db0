"""Blits to and from tiled surfaces: the blitter's own detiling (XY_SRC_COPY, XY_FAST_COPY).

A tiled surface is addressed as the fence detiles a GTT mmap (:func:`softgem.gem.tiled_offsets`,
``docs/gtt-tiling.md``): pixel byte ``(x, y)`` of a surface at GPU address ``base`` with pitch
``pitch`` is at ``base + tiled_offsets(tiling, pitch, y * pitch + x)``.  So a CPU image
written through the GTT mmap of a tiled object and a tiled blit of that object agree, and
both agree with the raw bytes pread returns.

What the command says (IGT ``lib/intel_batchbuffer.c``): XY_SRC_COPY's bits 15 (source) and
11 (destination) mean X tiling -- Y would need BCS_SWCTRL, which the model does not have --
and a tiled surface's pitch is given in dwords.  XY_FAST_COPY's 2-bit fields (21:20 source,
14:13 destination) are 0 linear, 1 X, 2 Y (legacy TileY unless the Yf bit of dword 1 is set),
3 Ys; Yf and Ys stop the engine.

Data moves in pieces that are contiguous on a surface: whole rows of a linear surface, 512-byte
tile rows of an X surface, 16-byte OWords of a Y one.  Slower than the linear paths of
:mod:`.blit_rows`, and only taken when a surface is tiled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ..gem import tiled_offsets
from .mi import GpuMemory

__all__ = ["Surface", "TILING_NONE", "TILING_X", "TILING_Y", "blit_tiled"]

TILING_NONE, TILING_X, TILING_Y = 0, 1, 2
_PIECE = {TILING_X: 512, TILING_Y: 16}


Combine = Callable[[npt.NDArray[np.uint8], npt.NDArray[np.uint8]], npt.NDArray[np.uint8]]


class Surface(NamedTuple):
    base: int       # GPU address of byte (0, 0)
    pitch: int      # bytes per row of the linear image
    tiling: int


def _pieces(s: Surface, x: int, y: int, nbytes: int) -> list[tuple[int, int, int]]:
    """``(gpu address, offset in the row, length)`` covering bytes ``[x, x + nbytes)`` of
    row ``y``, each contiguous in memory."""
    if s.tiling == TILING_NONE:
        return [(s.base + y * s.pitch + x, 0, nbytes)]
    w = _PIECE[s.tiling]
    starts = np.arange(x - x % w, x + nbytes, w, dtype=np.int64)
    starts[0] = x
    ends = np.minimum(starts - starts % w + w, x + nbytes)
    addrs = s.base + tiled_offsets(s.tiling, s.pitch, y * s.pitch + starts)
    return list(zip(addrs.tolist(), (starts - x).tolist(), (ends - starts).tolist(),
                    strict=True))


def read_rect(vm: GpuMemory, s: Surface, x: int, y: int, nbytes: int,
              nrows: int) -> npt.NDArray[np.uint8]:
    out = np.empty((nrows, nbytes), dtype=np.uint8)
    for r in range(nrows):
        for addr, off, n in _pieces(s, x, y + r, nbytes):
            out[r, off:off + n] = vm.read(addr, n)
    return out


def write_rect(vm: GpuMemory, s: Surface, x: int, y: int, data: npt.NDArray[np.uint8]) -> None:
    nrows, nbytes = data.shape
    for r in range(nrows):
        row = data[r]
        for addr, off, n in _pieces(s, x, y + r, nbytes):
            vm.write(addr, row[off:off + n])


def blit_tiled(vm: GpuMemory, dst: Surface, dx: int, dy: int, src: Surface, sx: int, sy: int,
               nbytes: int, nrows: int, combine: Combine | None = None) -> None:
    """Copy a rectangle of ``nbytes`` x ``nrows`` bytes (x in bytes) from ``src`` to ``dst``;
    ``combine(src_rect, dst_rect) -> new_rect`` applies a ROP and byte mask when given."""
    data = read_rect(vm, src, sx, sy, nbytes, nrows)
    if combine is not None:
        data = combine(data, read_rect(vm, dst, dx, dy, nbytes, nrows))
    write_rect(vm, dst, dx, dy, data)
