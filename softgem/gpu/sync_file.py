"""sync_file: a fence as an open file (``drivers/dma-buf/sync_file.c``).

Execbuf hands a request's fence to userspace as an *out-fence* fd and takes a fence back as
an *in-fence* fd.  A :class:`SyncFile` fits the machine's open-file protocol (``kref``,
``name``, ``ioctl``, ``mmap_file``, ``release``) the way :class:`~softgem.gem.prime.DmaBuf`
does, so ``task.fd_install`` puts it in a process's fd table and ``close`` drops it.

What userspace does with one, and the methods that stand for it:

====================================  ==========================================================
userspace                             here
====================================  ==========================================================
``poll(fd, POLLIN, 0)``               :meth:`SyncFile.poll` (True once the fence signalled)
``sync_fence_wait(fd, timeout_ms)``   :meth:`SyncFile.wait` (False when the timeout ran out)
``sync_fence_status(fd)``             :meth:`SyncFile.status`: 0 pending, 1 done, ``-errno``
``SYNC_IOC_MERGE``                    :func:`sync_file_merge` (a fence that signals when both
                                      have, with the first error)
====================================  ==========================================================

The ``SYNC_IOC_*`` ioctls are :mod:`.sync_file_ioctl`.  A merged sync_file keeps the list of
fences it was made of (``children``: what SYNC_IOC_FILE_INFO reports, one entry per fence
context, later seqno kept, signalled ones dropped, as ``dma_fence_unwrap_merge`` does).

Rejected alternative: storing the fd number in the sync file.  An open file does not know its
descriptors (``dup`` makes more), so the fd is what ``fd_install`` returns, nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .. import trace
from ..errors import EINVAL, ENODEV, KernelError, SimBug
from ..sync import Fence, Kref, SpinLock

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["FdTask", "SyncFile", "driver_name", "fence_status", "sync_file_create", "sync_file_get_fence",
           "sync_file_merge"]


class FdTask(Protocol):
    """The part of the calling process a sync_file needs: its fd table."""

    def fd_install(self, f: Any, flags: int = 0) -> int: ...

    def fd_get(self, fd: int) -> Any: ...

    def get_unused_fd_flags(self, flags: int) -> int: ...

    def fd_install_reserved(self, fd: int, f: Any) -> int: ...

    def put_unused_fd(self, fd: int) -> None: ...

    def fd_put(self, f: Any) -> None: ...


def driver_name(fence: Fence) -> str:
    """``dma_fence_driver_name``: "sw_sync" for a sw_sync point, else the GPU's "i915"."""
    name: str = getattr(fence, "driver_name", "i915")
    return name


def fence_status(fence: Fence) -> int:
    """``dma_fence_get_status``: 0 while pending, 1 when signalled cleanly, else ``-errno``."""
    if not fence.signaled():
        return 0
    return -fence.error if fence.error else 1


class SyncFile:
    """One sync_file: an open file holding one fence."""

    name = "sync_file"

    def __init__(self, fence: Fence, children: list[Fence] | None = None,
                 user_name: str | None = None) -> None:
        self.kref = Kref()            # the reference fd_install takes over
        self.fence: Fence | None = fence
        self._children = children
        self.user_name = user_name

    def __repr__(self) -> str:
        return f"<SyncFile {self.fence!r}>"

    # -- the open-file protocol ------------------------------------------------------------
    def get(self) -> SyncFile:
        self.kref.get()
        return self

    def put(self) -> None:
        self.kref.put(self.release)

    def ioctl(self, proc: Any, request: int, arg: Any) -> int:
        from .sync_file_ioctl import sync_file_ioctl

        return sync_file_ioctl(self, proc, request, arg)

    def children(self) -> list[Fence]:
        """The fences this sync_file stands for (``dma_fence_unwrap``)."""
        return list(self._children) if self._children is not None else [self._fence()]

    def get_name(self) -> str:
        """``sync_file_get_name``: the merge's name, else driver-timeline-context-seqno."""
        if self.user_name is not None:
            return self.user_name
        f = self._fence()
        return f"{driver_name(f)}-{f.name}{f.context}-{f.seqno}"

    def mmap_file(self) -> Any:
        raise ENODEV("a sync_file cannot be mapped")

    def release(self) -> None:
        """The last fd went: drop the fence (``sync_file_release``)."""
        if self.fence is None:
            raise SimBug("sync_file released twice")
        self.fence = None

    # -- what userspace asks of it -----------------------------------------------------------
    def _fence(self) -> Fence:
        if self.fence is None:
            raise SimBug("use of a released sync_file")
        return self.fence

    def poll(self) -> bool:
        """POLLIN: the fence has signalled (with or without an error)."""
        return self._fence().signaled()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until the fence signals; False if ``timeout`` seconds passed first."""
        return self._fence().wait(timeout)

    def status(self) -> int:
        """SYNC_IOC_FILE_INFO's status: 0 pending, 1 signalled, ``-errno`` on error."""
        return fence_status(self._fence())


def sync_file_create(fence: Fence) -> SyncFile:
    """A new sync_file holding ``fence`` (one reference, for ``fd_install`` to take)."""
    if trace.enabled:
        trace.emit("gpu", "sync_file_create", fence=fence.name)
    return SyncFile(fence)


def sync_file_get_fence(task: FdTask, fd: int) -> Fence:
    """The fence behind ``fd``; EINVAL if ``fd`` is not an open sync_file (a bad fd too:
    the kernel's ``sync_file_get_fence`` answers NULL for both and execbuf turns that into
    EINVAL)."""
    try:
        f = task.fd_get(fd)
    except KernelError as err:
        raise EINVAL(f"fd {fd} is not a sync_file ({err.name})") from None
    try:
        if not isinstance(f, SyncFile):
            raise EINVAL(f"fd {fd} is not a sync_file")
        return f._fence()
    finally:
        task.fd_put(f)


class _Merged:
    """Signals ``out`` once every fence in ``fences`` has, with the first error seen."""

    __slots__ = ("_left", "_lock", "out")

    def __init__(self, out: Fence, count: int) -> None:
        self.out = out
        self._left = count
        self._lock = SpinLock("gpu.sync_file_merge")

    def child_signalled(self, child: Fence) -> None:
        with self._lock:
            if child.error and not self.out.error:
                self.out.set_error(child.error)
            self._left -= 1
            done = self._left == 0
        if done:
            self.out.signal()


def _unwrap_merge(fences: Sequence[Fence]) -> list[Fence]:
    """One fence per context (the later seqno), signalled ones left out; a stub if none."""
    by_context: dict[int, Fence] = {}
    for f in fences:
        if f.signaled():
            continue
        have = by_context.get(f.context)
        if have is None or f.seqno > have.seqno:
            by_context[f.context] = f
    if not by_context:
        stub = Fence("stub")
        stub.signal()
        return [stub]
    return [by_context[c] for c in sorted(by_context)]


def sync_file_merge(fences: Sequence[Fence], name: str = "merged") -> SyncFile:
    """SYNC_IOC_MERGE: a sync_file whose fence signals when all of ``fences`` have.

    As ``dma_fence_unwrap_merge`` does, fences already signalled are left out (their errors
    too), one fence per context is kept, and when a single fence is left the sync_file holds
    that very fence; else a new one (``dma_fence_array``) that carries the first child error.
    """
    children = _unwrap_merge(fences)
    if len(children) == 1:
        return SyncFile(children[0], None, name)
    out = Fence(name)
    merged = _Merged(out, len(children) + 1)    # +1: the creation reference, dropped below
    for child in children:
        if not child.add_callback(merged.child_signalled):
            merged.child_signalled(child)
    merged.child_signalled(out)                 # `out` itself is never in error here
    return SyncFile(out, children, name)
