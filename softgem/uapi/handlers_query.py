"""I915_QUERY: the per-item query interface (``i915_query.c``), as a gen9 GT2 answers it.

The ioctl walks ``num_items`` items at ``items_ptr``.  Each item's outcome goes back into its
own ``length`` field -- the size of the answer, or a negative errno for a failed item -- and is
written only when it differs from what the caller put there; the ioctl itself fails only for
bad flags, an unreadable item, ``query_id`` 0, or an unwritable ``length``.  Every answer uses
the two-step protocol of ``copy_query_item``: ``length == 0`` asks for the size; a length
shorter than the answer is EINVAL; otherwise the header at ``data_ptr`` must be readable.

Items a gen9 part answers: topology (3 slices x 4 subslices x 8 EUs possible, one slice with
three full subslices present), engine info (rcs0, bcs0, vcs0, vecs0), memory regions (system
memory only).  The rest give the errno of that hardware: perf configs -> ENODEV (perf is not
modelled yet), hwconfig blob -> ENODEV (no GuC), geometry subslices -> ENODEV (before
Xe_HP), GuC submission version (v6.8) -> ENODEV; any other id -> EINVAL.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..abi import i915 as I
from ..errors import EINVAL, ENODEV, KernelError
from ..units import PAGE_SIZE
from .usercopy import copy_from_user, copy_to_user, put_user_s32, read_struct, write_struct

if TYPE_CHECKING:
    from .context import IoctlContext

__all__ = ["DRM_I915_QUERY_GUC_SUBMISSION_VERSION", "ENGINES", "query"]

DRM_I915_QUERY_GUC_SUBMISSION_VERSION = 7   # v6.8, newer than the libdrm header

# gen9 (big core) sseu limits, as intel_sseu_set_info gives them.
_MAX_SLICES, _MAX_SUBSLICES, _MAX_EUS_PER_SUBSLICE = 3, 4, 8

#: (class, instance, capabilities) of every user-visible engine of a Skylake GT2, uabi order.
ENGINES: tuple[tuple[int, int, int], ...] = (
    (I.I915_ENGINE_CLASS_RENDER, 0, 0),
    (I.I915_ENGINE_CLASS_COPY, 0, 0),
    (I.I915_ENGINE_CLASS_VIDEO, 0,
     I.I915_VIDEO_CLASS_CAPABILITY_HEVC | I.I915_VIDEO_AND_ENHANCE_CLASS_CAPABILITY_SFC),
    (I.I915_ENGINE_CLASS_VIDEO_ENHANCE, 0, I.I915_VIDEO_AND_ENHANCE_CLASS_CAPABILITY_SFC),
)

_Item = I.drm_i915_query_item
_LENGTH_OFFSET = _Item.length.offset


def _copy_query_item(ctx: IoctlContext, item: _Item, hdr_size: int, total: int) -> bytes | int:
    """The size when asked for it, EINVAL for a short buffer, else the user's header."""
    if item.length == 0:
        return total
    if item.length < total:
        raise EINVAL(f"query buffer of {item.length} bytes, {total} needed")
    return copy_from_user(ctx.mm, item.data_ptr, hdr_size)


def _stride(bits: int) -> int:
    return (bits + 7) // 8


def _topology(ctx: IoctlContext, item: _Item) -> int:
    if item.flags:
        raise EINVAL("topology query takes no flags")
    plat = ctx.dev.platform
    ss_stride, eu_stride = _stride(_MAX_SUBSLICES), _stride(_MAX_EUS_PER_SUBSLICE)
    slice_len = 1
    ss_len = _MAX_SLICES * ss_stride
    eu_len = _MAX_SLICES * _MAX_SUBSLICES * eu_stride
    hdr_size = ctypes.sizeof(I.drm_i915_query_topology_info)
    total = hdr_size + slice_len + ss_len + eu_len
    got = _copy_query_item(ctx, item, hdr_size, total)
    if isinstance(got, int):
        return got
    topo = I.drm_i915_query_topology_info(
        max_slices=_MAX_SLICES, max_subslices=_MAX_SUBSLICES,
        max_eus_per_subslice=_MAX_EUS_PER_SUBSLICE, subslice_offset=slice_len,
        subslice_stride=ss_stride, eu_offset=slice_len + ss_len, eu_stride=eu_stride)
    nr_ss = min(plat.subslice_total, _MAX_SUBSLICES)
    eus = min(plat.eu_total // max(nr_ss, 1), _MAX_EUS_PER_SUBSLICE)
    ss_masks = bytearray(ss_len)
    ss_masks[0] = (1 << nr_ss) - 1                    # slice 0 only
    eu_masks = bytearray(eu_len)
    for ss in range(nr_ss):
        eu_masks[ss * eu_stride] = (1 << eus) - 1
    write_struct(ctx.mm, item.data_ptr, topo)
    copy_to_user(ctx.mm, item.data_ptr + hdr_size, b"\x01")
    copy_to_user(ctx.mm, item.data_ptr + hdr_size + slice_len, ss_masks)
    copy_to_user(ctx.mm, item.data_ptr + hdr_size + slice_len + ss_len, eu_masks)
    return total


def _engine_info(ctx: IoctlContext, item: _Item) -> int:
    if item.flags:
        raise EINVAL("engine info query takes no flags")
    hdr_size = ctypes.sizeof(I.drm_i915_query_engine_info)
    info_size = ctypes.sizeof(I.drm_i915_engine_info)
    total = hdr_size + len(ENGINES) * info_size
    got = _copy_query_item(ctx, item, hdr_size, total)
    if isinstance(got, int):
        return got
    hdr = I.drm_i915_query_engine_info.from_buffer_copy(got)
    if hdr.num_engines or any(hdr.rsvd):
        raise EINVAL("engine info header must be zeroed")
    for i, (klass, instance, caps) in enumerate(ENGINES):
        info = I.drm_i915_engine_info(flags=I.I915_ENGINE_INFO_HAS_LOGICAL_INSTANCE,
                                      capabilities=caps, logical_instance=instance)
        info.engine.engine_class = klass
        info.engine.engine_instance = instance
        write_struct(ctx.mm, item.data_ptr + hdr_size + i * info_size, info)
        hdr.num_engines += 1
    write_struct(ctx.mm, item.data_ptr, hdr)
    return total


def _memory_regions(ctx: IoctlContext, item: _Item) -> int:
    if item.flags:
        raise EINVAL("memory regions query takes no flags")
    hdr_size = ctypes.sizeof(I.drm_i915_query_memory_regions)
    total = hdr_size + ctypes.sizeof(I.drm_i915_memory_region_info)
    got = _copy_query_item(ctx, item, hdr_size, total)
    if isinstance(got, int):
        return got
    hdr = I.drm_i915_query_memory_regions.from_buffer_copy(got)
    if hdr.num_regions or any(hdr.rsvd):
        raise EINVAL("memory regions header must be zeroed")
    size = ctx.dev.phys.nr_frames * PAGE_SIZE
    info = I.drm_i915_memory_region_info(probed_size=size, unallocated_size=size)
    info.region.memory_class = I.I915_MEMORY_CLASS_SYSTEM
    info.probed_cpu_visible_size = size
    info.unallocated_cpu_visible_size = size
    write_struct(ctx.mm, item.data_ptr + hdr_size, info)
    hdr.num_regions = 1
    write_struct(ctx.mm, item.data_ptr, hdr)
    return total


def _perf_config(ctx: IoctlContext, item: _Item) -> int:
    if item.flags not in (I.DRM_I915_QUERY_PERF_CONFIG_LIST,
                          I.DRM_I915_QUERY_PERF_CONFIG_DATA_FOR_UUID,
                          I.DRM_I915_QUERY_PERF_CONFIG_DATA_FOR_ID):
        raise EINVAL(f"perf config query flags {item.flags}")
    raise ENODEV("i915 perf (OA) is not modelled yet")


def _absent(why: str) -> Callable[[IoctlContext, _Item], int]:
    def answer(ctx: IoctlContext, item: _Item) -> int:
        raise ENODEV(why)
    return answer


_QUERIES: dict[int, Callable[[IoctlContext, _Item], int]] = {
    I.DRM_I915_QUERY_TOPOLOGY_INFO: _topology,
    I.DRM_I915_QUERY_ENGINE_INFO: _engine_info,
    I.DRM_I915_QUERY_PERF_CONFIG: _perf_config,
    I.DRM_I915_QUERY_MEMORY_REGIONS: _memory_regions,
    I.DRM_I915_QUERY_HWCONFIG_BLOB: _absent("no hwconfig table without GuC"),
    I.DRM_I915_QUERY_GEOMETRY_SUBSLICES: _absent("geometry subslices start at Xe_HP"),
    DRM_I915_QUERY_GUC_SUBMISSION_VERSION: _absent("no GuC submission on gen9"),
}


def _answer(ctx: IoctlContext, item: _Item) -> int:
    fn = _QUERIES.get(item.query_id)
    if fn is None:
        return -EINVAL.errno
    try:
        return fn(ctx, item)
    except KernelError as err:
        return -err.errno


def query(ctx: IoctlContext, q: I.drm_i915_query) -> int:
    if q.flags:
        raise EINVAL("query flags must be 0")
    for i in range(q.num_items):
        addr = q.items_ptr + i * ctypes.sizeof(_Item)
        item = read_struct(ctx.mm, addr, _Item)
        if item.query_id == 0:
            raise EINVAL("query id 0")
        ret = _answer(ctx, item)
        if ret != item.length:
            put_user_s32(ctx.mm, addr + _LENGTH_OFFSET, ret)
    return 0
