"""A request (``struct i915_request``): one batch submitted to one engine, and its fence.

Execbuf builds a request, makes it wait for what it depends on (:meth:`Request.await_fence`:
in-fences, implicit fences of the objects it uses), hands its fence out (object
reservations, the out-fence) and submits it with :meth:`Engine.submit`.  Every request that
is built must be submitted, even one whose payload is to be skipped: its fence only signals
once it has gone through the engine (as ``i915_request_add`` is always called).

Life cycle, under the engine's lock (``state``):

=========  ==============================================  ===================================
state      meaning                                         next
=========  ==============================================  ===================================
CREATED    being built: await_fence, on_retire, error      WAITING (``Engine.submit``)
WAITING    submitted; some awaited fence is not signalled  READY (its last dependency signals)
READY      queued on the engine's kernel thread            RUNNING
RUNNING    the command streamer executes it (``cs`` set)   RETIRED
RETIRED    fence signalled, on_retire callbacks have run   --
=========  ==============================================  ===================================

Errors follow ``i915_request_set_error_once``: the first *fatal* error sticks (EAGAIN and
ETIMEDOUT are not fatal and may be replaced).  An awaited fence that completes with an error
passes it on.  A request is executed only if it has no fatal error, ``skip_payload`` is
unset and its context is not banned (a banned context's requests end with EIO); otherwise
only its breadcrumb "runs": the fence signals with the error.

``on_retire`` callbacks run in the engine thread *after* the fence is signalled (the kernel
retires completed requests), outside every lock; they get the request.  They must not wait
for a later request of the same engine.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import SimBug
from ..sync import Fence

if TYPE_CHECKING:
    from .cmdparser import CsState
    from .engine import Engine
    from .hang import GpuHang
    from .mi import GpuMemory

__all__ = ["CREATED", "READY", "RETIRED", "RUNNING", "WAITING", "Request", "RequestFence",
           "fatal_error"]

CREATED, WAITING, READY, RUNNING, RETIRED = "created", "waiting", "ready", "running", "retired"


def fatal_error(err: int) -> bool:
    """``fatal_error()`` of i915_request.c: EAGAIN/ETIMEDOUT are transient, the rest fatal."""
    return err not in (0, errno.EAGAIN, errno.ETIMEDOUT)


class RequestFence(Fence):
    """The request's dma_fence; ``uabi_class`` lets BUSY name the engine (gem/wait.py)."""

    __slots__ = ("request", "uabi_class")

    def __init__(self, request: Request, name: str, context: int, seqno: int,
                 uabi_class: int) -> None:
        super().__init__(name, context=context, seqno=seqno)
        self.request = request
        self.uabi_class = uabi_class


class Request:
    """One batch on one engine.  ``ctx`` may be None (kernel-internal or test requests).

    ``seqno`` numbers the engine's requests in creation order (names, traces); the fence's
    ``(context, seqno)`` is the position on the context's timeline (``timeline_advance``).
    """

    __slots__ = ("_deps", "_error", "_pending", "_prev", "batch_len", "batch_start", "cs", "ctx",
                 "engine", "fence", "hang", "on_retire", "seqno", "skip_payload", "state",
                 "vm")

    def __init__(self, ctx: Any, engine: Engine, batch_start: int, batch_len: int, *,
                 vm: GpuMemory) -> None:
        self.ctx = ctx
        self.engine = engine
        self.vm = vm
        self.batch_start = batch_start
        self.batch_len = batch_len
        self.seqno, context, fence_seqno, self._prev = engine.timeline_advance(self)
        self.fence = RequestFence(self, f"{engine.name}#{self.seqno}", context, fence_seqno,
                                  engine.uabi_class)
        self.skip_payload = False
        self.on_retire: list[Callable[[Request], object]] = []
        self.state = CREATED
        self.cs: CsState | None = None
        self.hang: GpuHang | None = None
        self._error = 0
        self._deps: list[tuple[Fence, bool]] = []
        self._pending = 0

    def __repr__(self) -> str:
        err = f" error={self._error}" if self._error else ""
        return f"<Request {self.engine.name}#{self.seqno} {self.state}{err}>"

    # -- errors ----------------------------------------------------------------------------
    @property
    def error(self) -> int:
        """The positive errno the request will complete with, or 0."""
        return self._error

    @error.setter
    def error(self, err: int) -> None:
        self.set_error_once(err)

    def set_error_once(self, err: int) -> bool:
        """Record ``err`` unless a fatal error is already set or the fence signalled."""
        if err <= 0:
            raise SimBug(f"{self!r}: set_error_once({err}): pass a positive errno")
        with self.engine.lock:
            if self.fence.signaled() or fatal_error(self._error):
                return False
            self._error = err
            return True

    def cancel(self, err: int) -> None:
        """Make the request complete with ``err`` without (further) executing its batch."""
        self.set_error_once(err)
        self.skip_payload = True
        cs = self.cs
        if cs is not None:
            cs.stop = err

    # -- dependencies -------------------------------------------------------------------------
    def await_fence(self, fence: Fence, *, propagate_error: bool = True) -> None:
        """Do not start before ``fence`` signals.  Its error becomes ours when
        ``propagate_error`` (an awaited in-fence or implicit dependency); a request queued behind
        the previous one of its own context's timeline only waits for it: the kernel orders
        those through the submit fences, which carry no error."""
        if self.state != CREATED:
            raise SimBug(f"{self!r}: await_fence after submit")
        if fence is self.fence:
            raise SimBug(f"{self!r}: awaiting its own fence")
        self._deps.append((fence, propagate_error))

    def take_prev(self) -> Request | None:
        """The previous request of this one's timeline, handed over once (engine use)."""
        prev, self._prev = self._prev, None
        return prev

    def arm(self, ready: Callable[[Request], None]) -> None:
        """Submit: call ``ready(self)`` once every awaited fence has signalled (engine use)."""
        deps, self._deps = self._deps, []
        self._pending = len(deps) + 1       # +1: the submit itself, dropped below
        self.state = WAITING

        def waited(f: Fence) -> None:
            self._dep_signaled(ready)

        def inherit(f: Fence) -> None:
            if f.error:
                self.set_error_once(f.error)
            self._dep_signaled(ready)

        for f, propagate in deps:
            cb = inherit if propagate else waited
            if not f.add_callback(cb):
                cb(f)
        self._dep_signaled(ready)

    def _dep_signaled(self, ready: Callable[[Request], None]) -> None:
        with self.engine.lock:
            self._pending -= 1
            last = self._pending == 0
            if last:
                self.state = READY
        if last:
            ready(self)

    # -- completion ------------------------------------------------------------------------
    def completed(self) -> bool:
        return self.fence.signaled()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until the request completed; False if ``timeout`` seconds passed first."""
        return self.fence.wait(timeout)

    def retire(self) -> None:
        """Signal the fence (with the error), then run the on_retire callbacks (engine use)."""
        if self._error:
            self.fence.set_error(self._error)
        self.state = RETIRED
        if trace.enabled:
            trace.emit("gpu", "request_retire", engine=self.engine.name, seqno=self.seqno,
                       error=self._error, skipped=self.skip_payload)
        self.fence.signal()
        callbacks, self.on_retire = self.on_retire, []
        failure: BaseException | None = None
        for fn in callbacks:
            try:
                fn(self)
            except BaseException as exc:
                failure = failure or exc
        if failure is not None:
            raise SimBug(f"{self!r}: an on_retire callback raised") from failure
