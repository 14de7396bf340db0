"""sw_sync: a fence timeline that userspace advances by hand (``drivers/dma-buf/sw_sync.c``).

Opening ``/sys/kernel/debug/sync/sw_sync`` makes a private timeline, named after the opener
(its ``comm``).  Its ioctls:

==========================  ======================================================================
request                     ladder, first failure wins
==========================  ======================================================================
SW_SYNC_IOC_CREATE_FENCE    a descriptor reserved (EMFILE); argument copied in (EFAULT); a sync_file
                            for the point ``value`` on the timeline (already signalled if the
                            timeline has reached it; a second request for a pending value shares
                            its fence; ``name`` is ignored, as the kernel ignores it: the file is
                            named "sw_sync-<timeline><context>-<value>"); the fd copied out
                            (EFAULT), then installed
SW_SYNC_IOC_INC             argument copied in (EFAULT); the timeline advances by it (split in
                            steps of at most INT_MAX, as the kernel does) and every point it
                            reaches signals, in timeline order
SW_SYNC_GET_DEADLINE        argument copied in (EFAULT); ``deadline_ns`` or ``pad`` set (EINVAL);
                            ``fence_fd`` not a sync_file of a single sw_sync point (EINVAL); no
                            deadline set on it (ENOENT); the deadline copied out (EFAULT)
anything else               ENOTTY
==========================  ======================================================================

Values are 32-bit and compared with wraparound, as ``__dma_fence_is_later`` does for fences
without 64-bit seqnos: a point is reached when ``(int)(point - timeline) <= 0``.  Closing the
timeline signals every point it has not reached with ENOENT.

The timeline remembers its pending points weakly: a point whose every sync_file was closed and
that nothing waits on is gone, as the kernel frees it, so a program that creates and drops
fences without advancing holds no memory for them.  Points are signalled after the timeline's
lock is dropped (the lock is a leaf: a fence callback may submit GPU work).
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Callable
from typing import Any

from ..errors import EINVAL, ENODEV, ENOENT, ENOTTY
from ..sync import Fence, Kref, SpinLock, fence_context_alloc
from .sync_file import SyncFile, sync_file_get_fence
from .sync_file_ioctl import copy_arg_in, copy_arg_out, install_new_fd

__all__ = ["SW_SYNC_GET_DEADLINE", "SW_SYNC_IOC_CREATE_FENCE", "SW_SYNC_IOC_INC",
           "SW_SYNC_PATHS", "SwSyncTimeline", "SyncPt"]

#: Where the kernel puts it (debugfs), and where IGT looks first (a device node some kernels had).
SW_SYNC_PATHS = ("/sys/kernel/debug/sync/sw_sync",)

_CREATE = struct.Struct("<I32si")      # struct sw_sync_create_fence_data
_INC = struct.Struct("<I")
_DEADLINE = struct.Struct("<QiI")      # struct sw_sync_get_deadline


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("W") << 8) | nr


SW_SYNC_IOC_CREATE_FENCE = _ioc(3, 0, _CREATE.size)
SW_SYNC_IOC_INC = _ioc(1, 1, _INC.size)
SW_SYNC_GET_DEADLINE = _ioc(3, 2, _DEADLINE.size)

_MASK = 0xFFFFFFFF
_INT_MAX = 0x7FFFFFFF


def _ahead(point: int, value: int) -> int:
    """How far ``point`` lies past ``value`` on a 32-bit timeline (<= 0: reached)."""
    d = (point - value) & _MASK
    return d - (1 << 32) if d & 0x80000000 else d


class SyncPt(Fence):
    """One point of a sw_sync timeline: a fence with the timeline's name and a deadline."""

    __slots__ = ("__weakref__", "deadline")
    driver_name = "sw_sync"

    def __init__(self, timeline: str, context: int, value: int) -> None:
        super().__init__(timeline, context=context, seqno=value)
        self.deadline: int | None = None

    def set_deadline(self, ns: int) -> None:
        """``timeline_fence_set_deadline``: the earliest deadline asked for is kept."""
        if self.deadline is None or ns < self.deadline:
            self.deadline = ns


class SwSyncTimeline:
    """The open file of ``sw_sync``: one timeline (``struct sync_timeline``)."""

    name = "sw_sync"

    def __init__(self, comm: str = "sw_sync") -> None:
        self.kref = Kref()
        self.timeline_name = comm[:31]
        self.context = fence_context_alloc()
        self.value = 0
        self._lock = SpinLock("gpu.sw_sync_timeline")
        self._pending: weakref.WeakValueDictionary[int, SyncPt] = weakref.WeakValueDictionary()

    def __repr__(self) -> str:
        return f"<SwSyncTimeline {self.timeline_name!r} at {self.value}>"

    # -- the open-file protocol ---------------------------------------------------------------
    def get(self) -> SwSyncTimeline:
        self.kref.get()
        return self

    def put(self) -> None:
        self.kref.put(self.release)

    def mmap_file(self) -> Any:
        raise ENODEV("sw_sync cannot be mapped")

    def release(self) -> None:
        """The last fd went: every point not reached signals with ENOENT."""
        with self._lock:
            left = sorted(self._pending.values(), key=lambda p: _ahead(p.seqno, self.value))
            self._pending.clear()
        for pt in left:
            if not pt.signaled():
                pt.set_error(ENOENT.errno)
                pt.signal()

    # -- the timeline ---------------------------------------------------------------------------
    def create_point(self, value: int) -> SyncPt:
        """``sync_pt_create``: the fence of point ``value`` (shared with a pending twin)."""
        value &= _MASK
        with self._lock:
            pt = self._pending.get(value)
            if pt is not None:
                return pt
            pt = SyncPt(self.timeline_name, self.context, value)
            reached = _ahead(value, self.value) <= 0
            if not reached:
                self._pending[value] = pt
        if reached:
            pt.signal()
        return pt

    def advance(self, inc: int) -> None:
        """``sync_timeline_signal``: move on by ``inc`` (< 2**31) and signal what it reached."""
        with self._lock:
            old = self.value
            self.value = (old + inc) & _MASK
            due = [pt for v, pt in self._pending.items() if 0 < _ahead(v, old) <= inc]
            for pt in due:
                del self._pending[pt.seqno]
        due.sort(key=lambda p: _ahead(p.seqno, old))
        for pt in due:
            pt.signal()

    # -- ioctls ---------------------------------------------------------------------------------
    def ioctl(self, task: Any, request: int, arg: Any) -> int:
        request &= _MASK
        if request == SW_SYNC_IOC_CREATE_FENCE:
            return self._create_fence(task, arg)
        if request == SW_SYNC_IOC_INC:
            (inc,) = _INC.unpack(copy_arg_in(task, arg, _INC.size))
            while inc > _INT_MAX:
                self.advance(_INT_MAX)
                inc -= _INT_MAX
            self.advance(inc)
            return 0
        if request == SW_SYNC_GET_DEADLINE:
            return self._get_deadline(task, arg)
        raise ENOTTY(f"sw_sync ioctl {request:#x}")

    def _create_fence(self, task: Any, arg: Any) -> int:
        def build(_fd: int) -> tuple[SyncFile, Callable[[int], None]]:
            # ``name`` is the caller's, and unused: the sync_file is named from its fence
            value, name, _ = _CREATE.unpack(copy_arg_in(task, arg, _CREATE.size))
            sf = SyncFile(self.create_point(value))
            return sf, lambda fd: copy_arg_out(task, arg, _CREATE.pack(value, name, fd))

        return install_new_fd(task, build)

    @staticmethod
    def _get_deadline(task: Any, arg: Any) -> int:
        deadline, fence_fd, pad = _DEADLINE.unpack(copy_arg_in(task, arg, _DEADLINE.size))
        if deadline or pad:
            raise EINVAL("sw_sync_get_deadline deadline_ns/pad")
        pt = sync_file_get_fence(task, fence_fd)     # EINVAL: not a sync_file
        if not isinstance(pt, SyncPt):
            raise EINVAL(f"fd {fence_fd} is not a sw_sync point")
        if pt.deadline is None:
            raise ENOENT("no deadline set on the point")
        copy_arg_out(task, arg, _DEADLINE.pack(pt.deadline, fence_fd, pad))
        return 0

