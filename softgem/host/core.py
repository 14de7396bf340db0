"""The real core behind ``softgem run``: a :class:`HostBackend` serving the softgem i915.

One GEM device serves every traced process; its PhysMem's pinned userptr frames follow the
programs' own pages (userframes.py, plugged into the GPU as its PageWatch).  Each traced
address space gets a :class:`HostUserMm`, created on first use and keyed by the
supervisor's :class:`HostMm`, so "is this the creator's address space?" (the userptr EFAULT
for a forked child) is an identity test, as in the kernel.  ioctls go through the same table
as the simulated machine; memory events become notifier ranges on that address space.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .. import trace
from ..errors import ENODEV
from ..gem import DrmFile, GemDevice, Platform
from ..gpu import attach as attach_gpu
from ..mm import NotifierRange, NotifyEvent, PhysMem
from ..mm import notify as mm_notify
from ..sync import SpinLock
from ..uapi.table import dispatch
from ..units import PAGE_SIZE, TASK_SIZE
from .hostmm import HostUserMm, current
from .task import HostMm, HostTask
from .userframes import UserFrames

__all__ = ["CoreBackend"]


class _CoreTask:
    """``current`` for the ioctl table: the calling thread and its address space."""

    __slots__ = ("mm", "pid")

    def __init__(self, pid: int, mm: HostUserMm) -> None:
        self.pid = pid
        self.mm = mm

    def fd_install(self, f: Any) -> int:
        raise ENODEV("new file descriptors (PRIME, sync_file) are not served in host mode yet")

    def fd_get(self, fd: int) -> Any:
        raise ENODEV("file descriptors other than the device are not resolved in host mode yet")

    def fd_put(self, f: Any) -> None:
        return None


def _overlaps(subs: Any, start: int, end: int) -> bool:
    """Whether an interval subscription (or a whole-mm notifier) may care about the range."""
    if getattr(subs, "hlist", None):
        return True
    itree = getattr(subs, "itree", None)
    if itree is None:
        return True
    with subs.lock:
        return bool(itree.overlapping(start, end))


class CoreBackend:
    """Serves the softgem core to traced programs (see softgem.host.backend.HostBackend)."""

    def __init__(self, *, memory: int = 256 << 20, seed: int = 0,
                 platform: Platform | None = None) -> None:
        rng = random.Random(seed)
        self.phys = PhysMem(memory // PAGE_SIZE, rng=rng)
        self.dev = GemDevice(self.phys, rng=rng, platform=platform)
        # userptr frames are a live view of the programs' pages (userframes.py)
        self.frames = UserFrames(self.phys)
        attach_gpu(self.dev).page_watch = self.frames  # type: ignore[attr-defined]
        self._mms: dict[HostMm, HostUserMm] = {}
        self._lock = SpinLock("host.core_mms")

    def mm_of(self, host: HostMm) -> HostUserMm:
        mm = self._mms.get(host)  # a dict read is atomic: the hot path takes no lock
        if mm is not None:
            return mm
        with self._lock:
            mm = self._mms.get(host)
            if mm is None:
                mm = self._mms[host] = HostUserMm(host, self.phys, self.frames)
            return mm

    # -- files --------------------------------------------------------------------------------
    def open_file(self, minor: int) -> object:
        return self.dev.open(minor)

    def release_file(self, file: object) -> None:
        assert isinstance(file, DrmFile)
        file.release()

    def ioctl(self, file: object, task: HostTask, request: int, arg: int) -> int:
        mm = self._mms.get(task.mm) or self.mm_of(task.mm)
        serving = current
        serving.task = task
        try:
            return dispatch(file, _CoreTask(task.pid, mm), request, arg)  # type: ignore[arg-type]
        finally:
            serving.task = None

    # -- address spaces -------------------------------------------------------------------
    def mm_event(self, task: HostTask, event: NotifyEvent, start: int, end: int,
                 cause: str) -> Callable[[], None] | None:
        """``invalidate_range_start`` now (before the call runs); the answer, called by the
        supervisor once the call is over in the program, is ``invalidate_range_end``.  Only
        when an interval subscription overlaps the range; otherwise nothing (the fast path).
        Pinned frames the call takes away from the program (UNMAP, CLEAR) are copied aside
        first: GPU work still pending keeps the old contents, as the kernel's pinned pages."""
        with self._lock:
            mm = self._mms.get(task.mm)
        subs = mm.notifier_subscriptions if mm is not None else None
        if mm is None or subs is None or not start < end or not _overlaps(subs, start, end):
            return None
        if trace.enabled:
            trace.emit("host", "mm_event", pid=task.pid, cause=cause, start=start, end=end)
        if event in (NotifyEvent.UNMAP, NotifyEvent.CLEAR):
            self.frames.detach(mm, start, end)
        rng = NotifierRange(mm, start, end, event)
        mm_notify.invalidate_range_start(mm, rng)
        if cause in ("exit_group", "execve", "fork"):
            mm_notify.invalidate_range_end(mm, rng)   # nothing to wait for: the mm goes
            return None                               # or is only write-protected
        return lambda: mm_notify.invalidate_range_end(mm, rng)

    def mm_fork(self, parent: HostTask, child: HostTask) -> None:
        """The child's address space starts with no userptr of its own (created lazily)."""

    def mm_exec(self, task: HostTask, old: HostMm) -> None:
        self._teardown(old)

    def mm_exit(self, mm: HostMm) -> None:
        self._teardown(mm)

    def _teardown(self, host: HostMm) -> None:
        """``exit_mmap``: RELEASE to whole-mm notifiers, then UNMAP over everything."""
        with self._lock:
            mm = self._mms.pop(host, None)
        if mm is None or mm.exited:
            return
        mm.exited = True
        self.frames.forget(mm)
        mm_notify.release(mm)
        rng = NotifierRange(mm, 0, TASK_SIZE, NotifyEvent.UNMAP)
        mm_notify.invalidate_range_start(mm, rng)
        mm_notify.invalidate_range_end(mm, rng)

    # -- accounting -----------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        counts = self.dev.counters()
        counts["pins"] = self.phys.nr_pinned()
        counts["frames_used"] = self.phys.nr_used()
        return counts
