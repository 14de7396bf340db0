"""DRM sync objects (``drivers/gpu/drm/drm_syncobj.c``, ``dma-fence-chain.c``).

A :class:`Syncobj` is a slot holding one fence or nothing.  A *binary* syncobj has its fence
replaced (execbuf's FENCE_ARRAY signal, SYNCOBJ_SIGNAL, an imported sync_file) or dropped
(RESET).  A *timeline* syncobj holds a chain: each point added is a :class:`ChainFence`
linking the point's own fence to the previous head, and the chain node signals once its
fence and every earlier point have (``dma_fence_chain``).  Point 0 names whatever the slot
holds; point N names the oldest node whose number is at least N
(:func:`chain_find_seqno`).

Who holds references: the file's handle table (one per handle), a syncobj fd (its
:class:`SyncobjFile`), and an ioctl while it runs.  The slot's fence lives as long as the
syncobj (``drm_syncobj_free`` drops it).

Waiting for submission (WAIT_FOR_SUBMIT): a waiter registers a callback in
``Syncobj.waiters``; every replace or added point calls them *after* dropping the syncobj
lock (a waiter re-reads the slot under it from inside its wait queue's condition: waking
under the lock would invert that order).

Rejected alternative: a chain as a Python list of (point, fence) in the syncobj.  Waiting on
"point N" must be waiting on one fence that other code (execbuf's await, a sync_file export)
can hold after the syncobj changed, so a point is a fence, as in the kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import EINVAL, ENODEV, ENOTTY, SimBug
from ..sync import Fence, Kref, SpinLock, fence_context_alloc

if TYPE_CHECKING:
    from ..gem import DrmFile

__all__ = ["ChainFence", "Syncobj", "SyncobjFile", "chain_find_seqno", "signaled_stub",
           "syncobj_destroy", "syncobj_find", "syncobj_get_handle"]


def signaled_stub() -> Fence:
    """``dma_fence_get_stub`` / ``dma_fence_allocate_private_stub``: a fence already signalled."""
    fence = Fence("stub")
    fence.signal()
    return fence


class ChainFence(Fence):
    """One timeline point (``struct dma_fence_chain``): signals after ``fence`` and ``prev``."""

    __slots__ = ("_left", "_left_lock", "fence", "prev", "prev_seqno")

    def __init__(self, prev: Fence | None, fence: Fence, seqno: int) -> None:
        prev_chain = prev if isinstance(prev, ChainFence) else None
        if prev_chain is not None and seqno > prev_chain.seqno:
            context, prev_seqno = prev_chain.context, prev_chain.seqno
        else:
            # An unordered point starts a new context (dma_fence_chain_init).
            context, prev_seqno = fence_context_alloc(), 0
            if prev_chain is not None:
                seqno = max(prev_chain.seqno, seqno)
        super().__init__(f"chain {seqno}", context=context, seqno=seqno)
        self.fence: Fence | None = fence
        self.prev: Fence | None = prev
        self.prev_seqno = prev_seqno
        self._left_lock = SpinLock("gpu.fence_chain")
        self._left = 3                    # fence, prev, and the creation reference below
        for dep in (fence, prev):
            if dep is None or not dep.add_callback(self._dep_signalled):
                self._dep_signalled(dep)
        self._dep_signalled(None)

    def _dep_signalled(self, dep: Fence | None) -> None:
        with self._left_lock:
            if dep is not None and dep.error and not self.error:
                self.set_error(dep.error)
            self._left -= 1
            done = self._left == 0
        if done:
            # Every earlier point has signalled: drop the links (the kernel's chain walk
            # garbage-collects signalled links the same way), so a long timeline stays short.
            self.prev = None
            self.signal()


def chain_find_seqno(fence: Fence | None, point: int) -> Fence | None:
    """``dma_fence_chain_find_seqno``: the fence standing for ``point`` in a slot holding
    ``fence``; None when that point has signalled already (the caller uses a stub).

    Raises EINVAL when ``point`` is not 0 and the slot holds no chain, or a chain whose head
    is below ``point``.
    """
    if point == 0:
        return fence
    if not isinstance(fence, ChainFence) or fence.seqno < point:
        raise EINVAL(f"no timeline point {point}")
    node: Fence = fence
    while isinstance(node, ChainFence) and node.context == fence.context:
        if node.signaled():
            return None
        if node.prev_seqno < point:
            return node
        prev = node.prev
        if prev is None:
            return None
        node = prev
    return node


class Syncobj:
    """``struct drm_syncobj``: a fence slot, a refcount, and the submit waiters."""

    __slots__ = ("fence", "kref", "lock", "waiters")

    def __init__(self) -> None:
        self.kref = Kref()
        self.lock = SpinLock("drm.syncobj")
        self.fence: Fence | None = None
        self.waiters: list[Callable[[], object]] = []

    def __repr__(self) -> str:
        return f"<Syncobj {self.fence!r}>"

    def get(self) -> Syncobj:
        self.kref.get()
        return self

    def put(self) -> None:
        self.kref.put(self._free)

    def _free(self) -> None:
        """``drm_syncobj_free``: the last reference went; the slot's fence goes with it."""
        with self.lock:
            self.fence = None
            self.waiters.clear()

    def fence_get(self) -> Fence | None:
        with self.lock:
            return self.fence

    def _wake(self) -> None:
        with self.lock:
            waiters = list(self.waiters)
        for wake in waiters:
            wake()

    def replace_fence(self, fence: Fence | None) -> None:
        """``drm_syncobj_replace_fence``: a binary signal (or a reset with None)."""
        with self.lock:
            self.fence = fence
        if trace.enabled:
            trace.emit("gpu", "syncobj_replace", fence=fence.name if fence else None)
        if fence is not None:
            self._wake()

    def add_point(self, fence: Fence, point: int) -> None:
        """``drm_syncobj_add_point``: a new timeline head for ``point`` over the old one."""
        with self.lock:
            self.fence = ChainFence(self.fence, fence, point)
        if trace.enabled:
            trace.emit("gpu", "syncobj_point", point=point, fence=fence.name)
        self._wake()

    def assign_null_handle(self) -> None:
        """SYNCOBJ_SIGNAL / CREATE_SIGNALED: the slot holds a signalled stub."""
        self.replace_fence(signaled_stub())

    def find_fence(self, point: int) -> Fence | None:
        """The fence for ``point`` (a stub for a signalled one); None if the slot is empty.
        Raises EINVAL for a point the timeline does not have."""
        fence = self.fence_get()
        if fence is None:
            return None
        found = chain_find_seqno(fence, point)
        return found if found is not None else signaled_stub()


class SyncobjFile:
    """The anonymous ``syncobj_file`` a SYNCOBJ_HANDLE_TO_FD fd stands for (open-file
    protocol: ``kref``, ``name``, ``ioctl``, ``mmap_file``, ``release``)."""

    name = "syncobj_file"

    def __init__(self, syncobj: Syncobj) -> None:
        self.kref = Kref()
        self.syncobj: Syncobj | None = syncobj.get()

    def __repr__(self) -> str:
        return f"<SyncobjFile {self.syncobj!r}>"

    def ioctl(self, proc: Any, request: int, arg: Any) -> int:
        raise ENOTTY(f"syncobj file ioctl {request:#x}")

    def mmap_file(self) -> Any:
        raise ENODEV("a syncobj file cannot be mapped")

    def release(self) -> None:
        syncobj, self.syncobj = self.syncobj, None
        if syncobj is None:
            raise SimBug("syncobj file released twice")
        syncobj.put()

    def object(self) -> Syncobj:
        if self.syncobj is None:
            raise SimBug("use of a released syncobj file")
        return self.syncobj


# -- the file's handle table (drm_syncobj_open / _find / _get_handle / _destroy) ------------------
def syncobj_find(file: DrmFile, handle: int) -> Syncobj | None:
    """The syncobj behind ``handle`` with a new reference, or None."""
    with file.syncobj_lock:
        syncobj: Syncobj | None = file.syncobjs.get(handle)
        if syncobj is not None:
            syncobj.get()
        return syncobj


def syncobj_get_handle(file: DrmFile, syncobj: Syncobj) -> int:
    """A new handle for ``syncobj`` in ``file`` (the table takes its own reference); the
    lowest free id from 1 (``idr_alloc(.., 1, 0)``)."""
    with file.syncobj_lock:
        handle = 1
        while handle in file.syncobjs:
            handle += 1
        file.syncobjs[handle] = syncobj.get()
        return handle


def syncobj_destroy(file: DrmFile, handle: int) -> None:
    """SYNCOBJ_DESTROY's body: EINVAL for an unknown handle (not ENOENT: idr_remove)."""
    with file.syncobj_lock:
        syncobj: Syncobj | None = file.syncobjs.pop(handle, None)
    if syncobj is None:
        raise EINVAL(f"syncobj handle {handle}")
    syncobj.put()
