"""The real core behind ``softgem run``: a :class:`HostBackend` serving the softgem i915.

One GEM device serves every traced process; its PhysMem's pinned userptr frames follow the
programs' own pages (userframes.py, plugged into the GPU as its PageWatch).  Each traced
address space gets a :class:`HostUserMm`, created on first use and keyed by the
supervisor's :class:`TracedMm`, so "is this the creator's address space?" (the userptr EFAULT
for a forked child) is an identity test, as in the kernel.  ioctls go through the same table
as the simulated machine; memory events become notifier ranges on that address space.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

from .. import trace
from ..errors import EINVAL, ENODEV, ENOTTY
from ..gem import DmaBuf, DrmFile, GemDevice, Platform, gem_mmap_lookup
from ..gpu import SwSyncTimeline, manual_reset
from ..gpu import attach as attach_gpu
from ..mm import NotifierRange, NotifyEvent, PhysMem
from ..mm import notify as mm_notify
from ..sync import SpinLock
from ..uapi.table import dispatch
from ..units import PAGE_SHIFT, PAGE_SIZE, TASK_SIZE
from .devmmap import Mirrors
from .drmfile import FileTable
from .hostfds import HostFds
from .hostmm import HostUserMm, current
from .task import HostTask, TracedMm
from .userframes import UserFrames

__all__ = ["CoreBackend"]

_O_CLOEXEC = 0o2000000


class _CoreTask:
    """``current`` for the ioctl table: the calling thread, its address space, and the
    program's fd table through the supervisor's file table (hostfds.py).  Files the core
    resolves with ``fd_get`` keep a table reference until ``fd_put``."""

    __slots__ = ("_fds", "_held", "_reserved", "host", "mm", "pid")

    def __init__(self, pid: int, mm: HostUserMm, host: HostTask | None = None,
                 fds: HostFds | None = None) -> None:
        self.pid = pid
        self.mm = mm
        self.host = host
        self._fds = fds
        self._held: list[tuple[object, Any]] = []
        self._reserved: dict[int, int] = {}      # reserved number -> its O_* flags

    def _table(self) -> tuple[HostFds, HostTask]:
        if self._fds is None or self.host is None:
            raise ENODEV("no supervisor file table: file descriptors are not served")
        return self._fds, self.host

    def get_unused_fd_flags(self, flags: int) -> int:
        fds, host = self._table()
        fd = fds.reserve(host)
        self._reserved[fd] = flags
        return fd

    def fd_install_reserved(self, fd: int, f: Any) -> int:
        fds, host = self._table()
        flags = self._reserved.pop(fd, _O_CLOEXEC)
        return fds.install(host, f, cloexec=bool(flags & _O_CLOEXEC))

    def put_unused_fd(self, fd: int) -> None:
        self._reserved.pop(fd, None)     # a reservation is only a check in host mode

    def fd_install(self, f: Any, flags: int = 0) -> int:
        fds, host = self._table()
        fds.reserve(host)
        return fds.install(host, f, cloexec=bool(flags & _O_CLOEXEC))

    def fd_get(self, fd: int) -> Any:
        fds, host = self._table()
        f, entry = fds.get(host.pid, fd)
        self._held.append((f, entry))
        return f

    def fd_put(self, f: Any) -> None:
        for i, (held, entry) in enumerate(self._held):
            if held is f:
                del self._held[i]
                if self._fds is not None:
                    self._fds.put(entry)
                return


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
                 platform: Platform | None = None, design: str = "v6.8") -> None:
        rng = random.Random(seed)
        self.phys = PhysMem(memory // PAGE_SIZE, rng=rng)
        self.dev = GemDevice(self.phys, rng=rng, platform=platform, userptr_design=design)
        self.mirrors = Mirrors(self.phys)
        self.dev.store_mirror = self.mirrors
        # userptr frames are a live view of the programs' pages (userframes.py)
        self.frames = UserFrames(self.phys)
        attach_gpu(self.dev).page_watch = self.frames  # type: ignore[attr-defined]
        self._mms: dict[TracedMm, HostUserMm] = {}
        self._lock = SpinLock("host.core_mms")
        self.fds: HostFds | None = None

    def attach_files(self, files: FileTable) -> None:
        """The supervisor's file table: new fds (PRIME, sync_file, syncobj) go there."""
        self.fds = HostFds(files)

    def manual_reset(self, engine_mask: int) -> int:
        """A reset written to debugfs ``i915_wedged`` (wedged.py)."""
        gpu = attach_gpu(self.dev)      # the device's Gpu (attached at construction)
        return manual_reset(gpu, engine_mask)

    def memory(self) -> tuple[int, int]:
        """The model's RAM: total and free bytes (what sysinfo and /proc/meminfo report)."""
        return self.phys.nr_frames * PAGE_SIZE, self.phys.nr_free() * PAGE_SIZE

    def mm_of(self, host: TracedMm) -> HostUserMm:
        mm = self._mms.get(host)  # a dict read is atomic: the hot path takes no lock
        if mm is not None:
            return mm
        with self._lock:
            mm = self._mms.get(host)
            if mm is None:
                mm = self._mms[host] = HostUserMm(host, self.phys, self.mirrors, self.frames)
            return mm

    # -- files --------------------------------------------------------------------------------
    def open_file(self, minor: int) -> object:
        return self.dev.open(minor)

    def open_timeline(self, comm: str) -> object:
        return SwSyncTimeline(comm)

    def release_file(self, file: object) -> None:
        """The last fd of a device file (``drm_release``) or of a core file the ioctls made
        (the fd table's reference: ``fput``)."""
        if isinstance(file, DrmFile):
            file.release()
            return
        kref = getattr(file, "kref", None)
        if kref is not None:
            kref.put(file.release)      # type: ignore[attr-defined]

    def file_ioctl(self, file: object, task: HostTask, request: int, arg: int) -> int:
        """An ioctl on a core file that is not a device (a sync_file's SYNC_IOC_*)."""
        mm = self._mms.get(task.mm) or self.mm_of(task.mm)
        ioctl = getattr(file, "ioctl", None)
        if ioctl is None:
            raise ENOTTY(f"ioctl {request:#x} on {file!r}")
        serving = current
        serving.task = task
        try:
            return int(ioctl(_CoreTask(task.pid, mm, task, self.fds), request, arg))
        finally:
            serving.task = None

    def ioctl(self, file: object, task: HostTask, request: int, arg: int) -> int:
        mm = self._mms.get(task.mm) or self.mm_of(task.mm)
        serving = current
        serving.task = task
        try:
            return dispatch(file, _CoreTask(task.pid, mm, task, self.fds),  # type: ignore[arg-type]
                            request, arg)
        finally:
            serving.task = None

    def mmap_target(self, file: object, pgoff: int, npages: int, write: bool
                    ) -> tuple[int, int]:
        assert isinstance(file, DrmFile)
        obj, mmo = gem_mmap_lookup(self.dev, file, pgoff, npages, write)
        try:
            with obj.lock:    # a copy: the mirror may go with the object once we let go
                fd = os.dup(self.mirrors.fd_of(obj))
            return fd, (pgoff - mmo.node.start) * PAGE_SIZE
        finally:
            obj.put()

    def dmabuf_mmap_target(self, file: object, pgoff: int, npages: int) -> tuple[int, int]:
        """mmap of a core file (``dma_buf_mmap``): a dma-buf maps its object's shmem file at
        object page ``pgoff``; other files have no mmap (ENODEV)."""
        if not isinstance(file, DmaBuf):
            raise ENODEV(f"{file!r} cannot be mapped")
        obj = file.obj
        if obj is None or pgoff + npages > file.size >> PAGE_SHIFT:
            raise EINVAL(f"dma-buf mmap of pages [{pgoff:#x}, +{npages:#x}) past {file!r}")
        with obj.lock:    # the dma-buf fd the caller holds keeps obj alive meanwhile
            mirror = self.mirrors.fd_of(obj)
            # PRIME without DRM_RDWR exports an O_RDONLY file: no shared writable mapping.
            mode = os.O_RDWR if file.flags & os.O_RDWR else os.O_RDONLY
            fd = os.open(f"/proc/self/fd/{mirror}", mode | os.O_CLOEXEC)
        return fd, pgoff * PAGE_SIZE

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

    def mm_exec(self, task: HostTask, old: TracedMm) -> None:
        self._teardown(old)

    def mm_exit(self, mm: TracedMm) -> None:
        self._teardown(mm)

    def _teardown(self, host: TracedMm) -> None:
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
        counts["host_mirrors"] = len(self.mirrors)
        return counts
