"""Fence: a one-shot "this work is done" event, modelled on the kernel's ``struct dma_fence``.

A fence belongs to a *context* (a timeline, from :func:`fence_context_alloc`) and carries a
``seqno`` ordered within it.  It is signalled exactly once, optionally with an error set
before; waiters sleep until then, callbacks run then.

State, under ``_lock`` (a plain lock private to the fence, never held while calling out):

==========  ==========  ====================================================================
_signaled   callbacks   meaning
==========  ==========  ====================================================================
False       list        pending: ``set_error`` and ``add_callback`` allowed
True        None        signalled: ``add_callback`` returns False, ``set_error`` is a bug
==========  ==========  ====================================================================

``signal()`` flips the state and takes the callback list in one critical section, then wakes
the waiters and runs the callbacks in the signalling thread *outside* the lock (the kernel
runs them under the fence spinlock; here a callback may take locks or signal other fences).

Lockdep (as the kernel's ``dma_fence_map``): :func:`fence_begin_signalling` /
:func:`fence_end_signalling` bracket code that must reach a ``signal()``; ``wait()`` "takes"
the map.  A lock taken inside a signalling section and held while waiting on a fence is
then a reported cycle, even if the wait happened to finish in that run.  ``signal()`` itself
is such a section, so callbacks that wait on fences are caught.  Prime order name:
:data:`FENCE_MAP`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from .. import trace
from ..errors import SimBug
from . import clock
from . import task as _task
from .lockmap import LockdepMap
from .wait import WaitQueue

__all__ = ["FENCE_MAP", "Fence", "fence_begin_signalling", "fence_context_alloc",
           "fence_end_signalling"]

#: The lock class name of the fence pseudo-lock, for ``lockdep.prime([..., FENCE_MAP])``.
FENCE_MAP = "dma_fence_map"
_fence_map = LockdepMap(FENCE_MAP)

_contexts = itertools.count(1)
_contexts_lock = threading.Lock()


def fence_context_alloc(num: int = 1) -> int:
    """The first of ``num`` fresh fence contexts (``dma_fence_context_alloc``)."""
    if num < 1:
        raise SimBug(f"fence_context_alloc({num})")
    with _contexts_lock:
        first = next(_contexts)
        for _ in range(num - 1):
            next(_contexts)
    return first


def fence_begin_signalling() -> bool:
    """Open a section that must reach a ``signal()``; pass the cookie to the end call."""
    if _fence_map.held_by_me():
        return True             # nested section: the outer one already holds the map
    _fence_map.acquire(read=True)
    return False


def fence_end_signalling(cookie: bool) -> None:
    if not cookie:
        _fence_map.release()


def _fence_might_wait() -> None:
    """``__dma_fence_might_wait``: a wait counts as taking the map for write."""
    in_section = _fence_map.held_by_me()
    if in_section:
        _fence_map.release()
    _fence_map.might_wait()
    if in_section:
        _fence_map.acquire(read=True)


class Fence:
    """A dma_fence: ``signal()`` once, ``wait()``, callbacks, an error, (context, seqno)."""

    __slots__ = ("_callbacks", "_error", "_lock", "_signaled", "_wq", "context", "name",
                 "seqno", "timestamp")

    def __init__(self, name: str = "fence", *, context: int | None = None,
                 seqno: int = 0) -> None:
        self.name = name
        self.context = fence_context_alloc() if context is None else context
        self.seqno = seqno
        self.timestamp = 0          # the clock's ns when signalled (``dma_fence_timestamp``)
        self._lock = threading.Lock()
        self._signaled = False
        self._error = 0
        self._callbacks: list[Callable[[Fence], object]] | None = []
        self._wq = WaitQueue(f"fence {name}")

    # -- state -----------------------------------------------------------------------------
    def signaled(self) -> bool:
        return self._signaled

    @property
    def error(self) -> int:
        """The positive errno set by :meth:`set_error` (as ``KernelError.errno``), or 0."""
        return self._error

    def set_error(self, errno: int) -> None:
        """Record why the work failed; only before ``signal()`` (the kernel WARNs after)."""
        if errno <= 0:
            raise SimBug(f"fence {self.name}: set_error({errno}): pass a positive errno")
        with self._lock:
            if self._signaled:
                raise SimBug(f"fence {self.name}: set_error after signal")
            self._error = errno

    def is_later(self, other: Fence) -> bool:
        """True if both share a context and this one comes after ``other`` on it."""
        return self.context == other.context and self.seqno > other.seqno

    # -- signalling --------------------------------------------------------------------------
    def signal(self) -> bool:
        """Mark the fence done, wake waiters, run callbacks; False if it already was."""
        if _task.runtime is not None:
            _task.runtime.point("fence.signal", self)
        cookie = fence_begin_signalling()
        try:
            with self._lock:
                if self._signaled:
                    return False
                self._signaled = True
                self.timestamp = clock.monotonic_ns()
                callbacks, self._callbacks = self._callbacks or [], None
            if trace.enabled:
                trace.emit("sync", "fence_signal", fence=self.name, context=self.context,
                           seqno=self.seqno, error=self._error)
            self._wq.wake_up_all()
            self._run_callbacks(callbacks)
            return True
        finally:
            fence_end_signalling(cookie)

    def _run_callbacks(self, callbacks: list[Callable[[Fence], object]]) -> None:
        """Run every callback even if one raises; then raise the first failure."""
        failure: BaseException | None = None
        for fn in callbacks:
            try:
                fn(self)
            except BaseException as exc:
                failure = failure or exc
        if failure is not None:
            raise SimBug(f"fence {self.name}: a signal callback raised") from failure

    def add_callback(self, fn: Callable[[Fence], object]) -> bool:
        """Call ``fn(fence)`` when signalled; False (and no call) if it already is."""
        with self._lock:
            if self._callbacks is None:
                return False
            self._callbacks.append(fn)
            return True

    def remove_callback(self, fn: Callable[[Fence], object]) -> bool:
        """Forget one registration of ``fn``; False if absent or already signalled."""
        with self._lock:
            if self._callbacks is None or fn not in self._callbacks:
                return False
            self._callbacks.remove(fn)
            return True

    # -- waiting ---------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until signalled; False if ``timeout`` seconds passed first.  May sleep."""
        _fence_might_wait()
        return self._wq.wait_event(self.signaled, timeout)

    def __repr__(self) -> str:
        state = "signaled" if self._signaled else "pending"
        err = f" error={self._error}" if self._error else ""
        return f"<Fence {self.name} {self.context}:{self.seqno} {state}{err}>"
