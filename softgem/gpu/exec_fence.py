"""Execbuf's syncobj fences: I915_EXEC_FENCE_ARRAY and the TIMELINE_FENCES extension
(``add_fence_array``, ``add_timeline_fence_array``, ``await_fence_array``,
``signal_fence_array`` of ``i915_gem_execbuffer.c``).

Both reuse ``cliprects_ptr``: FENCE_ARRAY names ``num_cliprects`` ``drm_i915_gem_exec_fence``
entries there; USE_EXTENSIONS makes it an ``i915_user_extension`` chain whose one known link
(name 0) carries ``fence_count`` entries and as many timeline points.  Each entry is
collected before anything else of the execbuf runs (so its errnos come first, after SECURE):

==========================================================================  =========
entry check, first failure wins                                             errno
==========================================================================  =========
count beyond what the kernel can allocate                                   EINVAL
the entry (and the points) array outside the user address space             EFAULT
flags beyond WAIT | SIGNAL                                                  EINVAL
(timeline) the point unreadable                                             EFAULT
unknown syncobj handle                                                      ENOENT
binary WAIT on an empty syncobj; timeline: empty and flags without SIGNAL   EINVAL
timeline: the point is not on the timeline, and no SIGNAL                   EINVAL
timeline: WAIT and SIGNAL of the same non-zero point                        EINVAL
==========================================================================  =========

WAIT entries' fences are awaited by the request; after the request was queued, whatever
the outcome (the kernel signals them on its error path too), SIGNAL entries get the
request's fence: a new timeline point when a point was given, else a replaced fence.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from ..abi import I915_EXEC_FENCE_ARRAY, I915_EXEC_USE_EXTENSIONS
from ..errors import E2BIG, EFAULT, EINVAL, ENOENT
from .syncobj import Syncobj, chain_find_seqno, syncobj_find

if TYPE_CHECKING:
    from ..gem import DrmFile
    from ..sync import Fence

__all__ = ["EbFence", "collect_fences", "put_fences", "signal_fences"]

FENCE_WAIT = 1 << 0
FENCE_SIGNAL = 1 << 1
_UNKNOWN = ~(FENCE_WAIT | FENCE_SIGNAL) & 0xFFFFFFFF
_EXEC_FENCE = struct.Struct("<II")
_EXT_HDR = struct.Struct("<QII16x")
_TIMELINE = struct.Struct("<32xQQQ")
_MAX_EXTENSIONS = 512
_U64 = (1 << 64) - 1
_EB_FENCE_SIZE = 32                   # sizeof(struct eb_fence)


class EbFence:
    """``struct eb_fence``: a syncobj (referenced), its flags, the fence to await, a point."""

    __slots__ = ("fence", "flags", "syncobj", "value")

    def __init__(self, syncobj: Syncobj, flags: int, fence: Fence | None, value: int) -> None:
        self.syncobj, self.flags, self.fence, self.value = syncobj, flags, fence, value


def _find(file: DrmFile, handle: int) -> Syncobj:
    syncobj = syncobj_find(file, handle)
    if syncobj is None:
        raise ENOENT(f"syncobj handle {handle}")
    return syncobj


def _check_count(mm: Any, count: int, have: int, ptr: int, values: int | None) -> None:
    if count > min(_U64 // _EXEC_FENCE.size, _U64 // _EB_FENCE_SIZE - have):
        raise EINVAL(f"{count} fences")
    if not mm.access_ok(ptr, count * _EXEC_FENCE.size):
        raise EFAULT(f"fence array {ptr:#x}")
    if values is not None and not mm.access_ok(values, count * 8):
        raise EFAULT(f"timeline values {values:#x}")


def _entry(mm: Any, ptr: int) -> tuple[int, int]:
    handle, flags = _EXEC_FENCE.unpack(mm.copy_from_user(ptr, _EXEC_FENCE.size))
    if flags & _UNKNOWN:
        raise EINVAL(f"exec fence flags {flags:#x}")
    return handle, flags


def _add_fence_array(mm: Any, file: DrmFile, ptr: int, count: int,
                     out: list[EbFence]) -> None:
    if not count:
        return
    _check_count(mm, count, len(out), ptr, None)
    for i in range(count):
        handle, flags = _entry(mm, ptr + i * _EXEC_FENCE.size)
        syncobj = _find(file, handle)
        fence = None
        if flags & FENCE_WAIT:
            fence = syncobj.fence_get()
            if fence is None:
                syncobj.put()
                raise EINVAL(f"syncobj {handle} has no fence to wait on")
        out.append(EbFence(syncobj, flags, fence, 0))


def _add_timeline_fences(mm: Any, file: DrmFile, count: int, ptr: int, values: int,
                         out: list[EbFence]) -> None:
    if not count:
        return
    _check_count(mm, count, len(out), ptr, values)
    for i in range(count):
        handle, flags = _entry(mm, ptr + i * _EXEC_FENCE.size)
        (point,) = struct.unpack("<Q", mm.copy_from_user(values + 8 * i, 8))
        syncobj = _find(file, handle)
        try:
            fence = syncobj.fence_get()
            if fence is None and flags and not flags & FENCE_SIGNAL:
                raise EINVAL(f"syncobj {handle} has no fence")
            if fence is not None:
                try:
                    fence = chain_find_seqno(fence, point)
                except EINVAL:
                    if not flags & FENCE_SIGNAL:
                        raise
            if fence is None and not flags & FENCE_SIGNAL:
                syncobj.put()                   # a point signalled and collected: skip it
                continue
            if point and flags & FENCE_SIGNAL and flags & FENCE_WAIT:
                raise EINVAL("wait and signal of the same timeline point")
        except BaseException:
            syncobj.put()
            raise
        out.append(EbFence(syncobj, flags, fence if flags & FENCE_WAIT else None, point))


def collect_fences(mm: Any, file: DrmFile, flags: int, cliprects_ptr: int,
                   num_cliprects: int) -> list[EbFence]:
    """The extensions (``parse_execbuf2_extensions``) then the fence array
    (``add_fence_array``); on failure every reference taken is dropped."""
    out: list[EbFence] = []
    try:
        if flags & I915_EXEC_USE_EXTENSIONS:
            if flags & I915_EXEC_FENCE_ARRAY:
                raise EINVAL("extensions and a fence array both use cliprects_ptr")
            if num_cliprects:
                raise EINVAL("num_cliprects must be 0 with extensions")
            ext, depth = cliprects_ptr, _MAX_EXTENSIONS
            while ext:
                if not depth:
                    raise E2BIG("extension chain too long")
                depth -= 1
                nxt, name, eflags = _EXT_HDR.unpack(mm.copy_from_user(ext, _EXT_HDR.size))
                if eflags or any(mm.copy_from_user(ext + 16, 16)):
                    raise EINVAL("extension flags/rsvd must be zero")
                if name != 0:            # DRM_I915_GEM_EXECBUFFER_EXT_TIMELINE_FENCES
                    raise EINVAL(f"unknown execbuf extension {name}")
                count, handles, values = _TIMELINE.unpack(
                    mm.copy_from_user(ext, _TIMELINE.size))
                _add_timeline_fences(mm, file, count, handles, values, out)
                ext = nxt
        if flags & I915_EXEC_FENCE_ARRAY:
            _add_fence_array(mm, file, cliprects_ptr, num_cliprects, out)
    except BaseException:
        put_fences(out)
        raise
    return out


def signal_fences(fences: list[EbFence], fence: Fence) -> None:
    """``signal_fence_array``: SIGNAL entries get ``fence`` (a point, or a replacement)."""
    for f in fences:
        if not f.flags & FENCE_SIGNAL:
            continue
        if f.value:
            f.syncobj.add_point(fence, f.value)
        else:
            f.syncobj.replace_fence(fence)


def put_fences(fences: list[EbFence]) -> None:
    while fences:
        fences.pop().syncobj.put()
