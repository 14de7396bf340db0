"""Waiting on sync objects: SYNCOBJ_(TIMELINE_)WAIT and ``drm_syncobj_find_fence``.

:func:`array_wait` is ``drm_syncobj_array_wait_timeout``.  Each entry (a syncobj and a point)
resolves to a fence up front; one that has none yet is EINVAL unless WAIT_FOR_SUBMIT or
WAIT_AVAILABLE asked to wait for it.  The call then sleeps on one private wait queue, woken
by a callback on every entry's fence and, for WAIT_FOR_SUBMIT, by every syncobj's change
(``Syncobj.waiters``); the condition re-resolves the missing fences and counts the signalled
(or, for WAIT_AVAILABLE, present) ones.  WAIT_ALL needs every entry, otherwise the first
one ends the wait and its index is returned.  Timeouts are absolute CLOCK_MONOTONIC
nanoseconds (0 polls once; a time already past polls once too): the clock is read through
``softgem.sync.deadline``.  Running out is ETIME.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import EINVAL, ENOENT, ETIME
from ..sync import Fence, WaitQueue, now
from .syncobj import Syncobj, syncobj_find

if TYPE_CHECKING:
    from ..gem import DrmFile

__all__ = ["WAIT_ALL", "WAIT_AVAILABLE", "WAIT_FOR_SUBMIT", "array_wait", "find_fence",
           "timeout_abs_to_seconds"]

WAIT_ALL = 1 << 0
WAIT_FOR_SUBMIT = 1 << 1
WAIT_AVAILABLE = 1 << 2
_SUBMIT_TIMEOUT = 5.0          # DRM_SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT for find_fence


_FOREVER = 1e7                 # seconds: beyond this a wait is unbounded (INT64_MAX is common)


def timeout_abs_to_seconds(timeout_nsec: int) -> float | None:
    """``drm_timeout_abs_to_jiffies``: seconds left until the absolute ``timeout_nsec``
    (CLOCK_MONOTONIC), 0.0 for 0 or a time already past, None for one so far away that the
    kernel clamps it to MAX_SCHEDULE_TIMEOUT (IGT passes INT64_MAX for "forever")."""
    if timeout_nsec <= 0:
        return 0.0
    left = max(0.0, timeout_nsec / 1e9 - now())
    return None if left > _FOREVER else left


class _Entry:
    __slots__ = ("fence", "point", "syncobj")

    def __init__(self, syncobj: Syncobj, point: int) -> None:
        self.syncobj, self.point = syncobj, point
        self.fence: Fence | None = None

    def resolve(self) -> bool:
        """Look the point's fence up (again); True once there is one."""
        if self.fence is None:
            try:
                self.fence = self.syncobj.find_fence(self.point)
            except EINVAL:
                self.fence = None
        return self.fence is not None


def array_wait(syncobjs: Sequence[Syncobj], points: Sequence[int], flags: int,
               timeout: float | None) -> int:
    """Wait as SYNCOBJ_WAIT does; the index of the first signalled entry (meaningful when
    WAIT_ALL is not set).  Raises EINVAL (a missing fence without WAIT_FOR_SUBMIT or
    WAIT_AVAILABLE), ETIME."""
    entries = [_Entry(s, p) for s, p in zip(syncobjs, points, strict=True)]
    for e in entries:
        if not e.resolve() and not flags & (WAIT_FOR_SUBMIT | WAIT_AVAILABLE):
            raise EINVAL("a syncobj has no fence for the point waited on")
    wq = WaitQueue("drm.syncobj_wait")
    wake = wq.wake_up_all
    first = [-1]

    def counted(e: _Entry) -> bool:
        if not e.resolve():
            return False
        assert e.fence is not None
        return bool(flags & WAIT_AVAILABLE) or e.fence.signaled()

    def done() -> bool:
        hits = [i for i, e in enumerate(entries) if counted(e)]
        if hits:
            first[0] = hits[0]
        if flags & WAIT_ALL:
            return len(hits) == len(entries)
        return bool(hits)

    def on_fence(_: Fence) -> None:
        wake()

    hooked: list[Fence] = []
    if flags & WAIT_FOR_SUBMIT:
        for s in syncobjs:
            with s.lock:
                s.waiters.append(wake)
    try:
        if done():
            return max(first[0], 0)
        if timeout is not None and timeout <= 0:
            raise ETIME("syncobj wait timed out")

        def hook_and_check() -> bool:
            for e in entries:
                f = e.fence
                if f is not None and all(f is not h for h in hooked) and \
                        f.add_callback(on_fence):
                    hooked.append(f)
            return done()

        if not wq.wait_event(hook_and_check, timeout):
            raise ETIME("syncobj wait timed out")
        return max(first[0], 0)
    finally:
        for f in hooked:
            f.remove_callback(on_fence)
        if flags & WAIT_FOR_SUBMIT:
            for s in syncobjs:
                with s.lock:
                    if wake in s.waiters:
                        s.waiters.remove(wake)


def find_fence(file: DrmFile, handle: int, point: int, flags: int) -> Fence:
    """``drm_syncobj_find_fence``: the fence for ``point`` of the syncobj ``handle`` (ENOENT
    if none); with WAIT_FOR_SUBMIT up to 5 s for one to appear (ETIME), else EINVAL."""
    syncobj = syncobj_find(file, handle)
    if syncobj is None:
        raise ENOENT(f"syncobj handle {handle}")
    try:
        try:
            fence = syncobj.find_fence(point)
        except EINVAL:
            if not flags & WAIT_FOR_SUBMIT:
                raise
            fence = None
        if fence is not None:
            return fence
        if not flags & WAIT_FOR_SUBMIT:
            raise EINVAL(f"syncobj {handle} has no fence")
        entry = _Entry(syncobj, point)
        wq = WaitQueue("drm.syncobj_submit")
        with syncobj.lock:
            syncobj.waiters.append(wq.wake_up_all)
        try:
            if not wq.wait_event(entry.resolve, _SUBMIT_TIMEOUT):
                raise ETIME(f"syncobj {handle}: nothing submitted")
        finally:
            with syncobj.lock:
                syncobj.waiters.remove(wq.wake_up_all)
        assert entry.fence is not None
        return entry.fence
    finally:
        syncobj.put()
