"""SET_TILING and GET_TILING: declaring an object's tiling layout for fenced (detiled) access.

The kernel only cares about X and Y tiling, for the fence registers that detile GTT mmaps.  The
rules of a gen9 part (``i915_tiling_ok``):

=============  ======================================================================
tiling         accepted strides
=============  ======================================================================
NONE (0)       any (the stride is forced to 0)
X (1)          a non-zero multiple of 512 (the X tile is 512 B x 8 rows)
Y (2)          a non-zero multiple of 128 (the Y tile is 128 B x 32 rows)
other          none (EINVAL)
=============  ======================================================================

and for X and Y, ``stride / 128`` may not exceed the fence pitch field (2048 on gen7+), i.e.
256 KiB.  On gen8+ the memory controller does no bit-6 swizzling, so the swizzle mode reported
is always NONE.  Changing the tiling revokes the GTT mmaps of the object (the fence behind them
no longer matches), so the next GTT access faults and picks up a fence for the new layout.

The layouts (:func:`tiled_offsets`), as a fence detiles them: the GTT sees the object as a
linear image of rows ``stride`` bytes long; byte ``(x, y)`` of it lives at

* X: tile ``(y // 8) * (stride // 512) + x // 512``, at ``(y % 8) * 512 + x % 512`` in the
  4 KiB tile (512 B x 8 rows, row major);
* Y: tile ``(y // 32) * (stride // 128) + x // 128``, at
  ``(x % 128 // 16) * 512 + (y % 32) * 16 + x % 16`` (128 B x 32 rows, in 16-byte OWords
  stored column by column).

pread/pwrite and the CPU (WB/WC) mmaps see the raw, tiled bytes; only the GTT detiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .. import trace
from ..abi import (  # the uAPI header's names
    I915_BIT_6_SWIZZLE_9,
    I915_BIT_6_SWIZZLE_9_10,
    I915_BIT_6_SWIZZLE_9_10_17,
    I915_BIT_6_SWIZZLE_9_17,
    I915_BIT_6_SWIZZLE_NONE,
    I915_BIT_6_SWIZZLE_UNKNOWN,
    I915_TILING_NONE,
    I915_TILING_X,
    I915_TILING_Y,
)
from ..errors import EINVAL, ENXIO, EOPNOTSUPP
from .ops import ObjectFlags

if TYPE_CHECKING:
    from .device import GemDevice
    from .file import DrmFile
    from .object import GemObject
    from .platform import Platform

__all__ = [
    "I915_TILING_NONE", "I915_TILING_X", "I915_TILING_Y", "I915_TILING_LAST",
    "I915_BIT_6_SWIZZLE_NONE", "I915_BIT_6_SWIZZLE_9", "I915_BIT_6_SWIZZLE_9_10",
    "I915_BIT_6_SWIZZLE_UNKNOWN", "I915_BIT_6_SWIZZLE_9_17", "I915_BIT_6_SWIZZLE_9_10_17",
    "TilingResult", "tiling_ok", "set_tiling", "get_tiling", "tiled_offsets",
]

I915_TILING_LAST = I915_TILING_Y


# The fence register's pitch field, in 128-byte units.
_GEN7_FENCE_MAX_PITCH_VAL = 0x800
_I965_FENCE_MAX_PITCH_VAL = 0x400


@dataclass(frozen=True, slots=True)
class TilingResult:
    """What SET_TILING writes back into its argument."""

    tiling_mode: int
    stride: int
    swizzle_mode: int


def tiled_offsets(tiling: int, stride: int,
                  linear: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Object byte offsets of the GTT's linear byte offsets ``linear`` (module doc)."""
    if tiling == I915_TILING_NONE:
        return linear
    y, x = np.divmod(linear, stride)
    if tiling == I915_TILING_X:
        tile = (y >> 3) * (stride >> 9) + (x >> 9)
        return (tile << 12) | ((y & 7) << 9) | (x & 511)
    tile = (y >> 5) * (stride >> 7) + (x >> 7)
    return (tile << 12) | (((x & 127) >> 4) << 9) | ((y & 31) << 4) | (x & 15)


def tiling_ok(plat: Platform, tiling: int, stride: int) -> bool:
    """Whether ``(tiling, stride)`` is a valid layout on ``plat`` (the gen4+ rules)."""
    if tiling == I915_TILING_NONE:
        return True
    if tiling > I915_TILING_LAST:
        return False
    max_pitch = _GEN7_FENCE_MAX_PITCH_VAL if plat.graphics_ver >= 7 else _I965_FENCE_MAX_PITCH_VAL
    if stride // 128 > max_pitch:
        return False
    tile_width = 128 if tiling == I915_TILING_Y else 512
    return stride != 0 and stride % tile_width == 0


def _swizzle(plat: Platform, tiling: int) -> int:
    """The bit-6 swizzle of ``tiling`` (``ggtt->bit_6_swizzle_x/y``): none on gen8+."""
    if tiling == I915_TILING_NONE or plat.graphics_ver >= 8:
        return I915_BIT_6_SWIZZLE_NONE
    return I915_BIT_6_SWIZZLE_UNKNOWN


def _user_swizzle(swizzle: int) -> int:
    """Bit-17 swizzling is hidden from userspace (pread/pwrite handle it)."""
    if swizzle == I915_BIT_6_SWIZZLE_9_17:
        return I915_BIT_6_SWIZZLE_9
    if swizzle == I915_BIT_6_SWIZZLE_9_10_17:
        return I915_BIT_6_SWIZZLE_9_10
    return swizzle


def _object_set_tiling(obj: GemObject, tiling: int, stride: int) -> None:
    """``i915_gem_object_set_tiling``: record the layout, revoke GTT mmaps if it changed."""
    with obj.lock:
        if (obj.tiling_mode, obj.stride) == (tiling, stride):
            return
        # Revoke (and unbind the aperture views, fences with them) before the layout
        # changes, under the object lock: a GTT fault, which takes the lock, can only map
        # in the new layout, and no PTE of the old one survives the change.
        obj.dev.release_mmap_gtt(obj)
        obj.tiling_mode, obj.stride = tiling, stride
    if trace.enabled:
        trace.emit("gem", "set_tiling", obj=obj.id, tiling=tiling, stride=stride)


def set_tiling(dev: GemDevice, file: DrmFile, handle: int, tiling_mode: int,
               stride: int) -> TilingResult:
    """I915_GEM_SET_TILING: returns the tiling, stride and swizzle the object now has.

    Raises EOPNOTSUPP without fence registers, ENOENT for a bad handle, ENXIO for a proxy
    object (userptr), EINVAL for a layout :func:`tiling_ok` refuses.  NONE forces stride 0.
    """
    plat = dev.platform
    if not plat.num_fences:
        raise EOPNOTSUPP("no fence registers")
    obj = file.lookup(handle)
    try:
        if obj.flags & ObjectFlags.IS_PROXY:
            raise ENXIO(f"{obj!r} is a proxy: tiling is its generator's")
        if not tiling_ok(plat, tiling_mode, stride):
            raise EINVAL(f"tiling {tiling_mode} stride {stride}")
        if tiling_mode == I915_TILING_NONE:
            swizzle, stride = I915_BIT_6_SWIZZLE_NONE, 0
        else:
            swizzle = _user_swizzle(_swizzle(plat, tiling_mode))
            if swizzle == I915_BIT_6_SWIZZLE_UNKNOWN:
                # Swizzling we cannot handle: the object stays linear.
                tiling_mode, swizzle, stride = I915_TILING_NONE, I915_BIT_6_SWIZZLE_NONE, 0
        with dev.userptr_design.device_lock():
            _object_set_tiling(obj, tiling_mode, stride)
        # The ABI reports what the object has now, not what was asked.
        return TilingResult(obj.tiling_mode, obj.stride, swizzle)
    finally:
        obj.put()


def get_tiling(dev: GemDevice, file: DrmFile, handle: int) -> tuple[int, int, int]:
    """I915_GEM_GET_TILING: ``(tiling_mode, swizzle_mode, phys_swizzle_mode)``.

    Raises EOPNOTSUPP without fence registers, ENOENT for a bad handle.
    """
    plat = dev.platform
    if not plat.num_fences:
        raise EOPNOTSUPP("no fence registers")
    obj = file.lookup(handle)
    try:
        tiling = obj.tiling_mode
    finally:
        obj.put()
    swizzle = _swizzle(plat, tiling)
    return tiling, _user_swizzle(swizzle), swizzle
