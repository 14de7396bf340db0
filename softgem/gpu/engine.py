"""An engine (``struct intel_engine_cs``): one ring, one kernel thread executing its requests.

Each engine owns a single-worker :class:`~softgem.sync.Workqueue` (``kworker/<name>``),
created on the first submit.  A submitted request waits for the fences it awaits (plus the
request built before it on its context's timeline, so one context's requests stay in order,
as the kernel's per-context timeline does); when the last one signals the request is
queued on the thread, which runs it with :func:`cmdparser.execute` and retires it.  Requests
of different contexts may therefore overtake each other while one waits for a dependency;
once queued they run strictly in queue order, one at a time.

The running request is bracketed as a fence signalling section (``dma_fence_begin_
signalling``): the command streamer takes no lock that anyone holds while waiting for a
fence (AddressSpace.resolve is lockless by design), and lockdep checks that it stays so.
Hang recovery (:func:`.hang.reset`) zaps CPU mappings and runs after the section.

Lock: ``lock`` (SpinLock "gpu.engine") guards ``_inflight``, ``_timelines``, ``active`` and the
requests' ``state``/``_pending``/``_error``; it is innermost and never held while calling out.

Every public method may be called from any thread.  ``wait_idle`` sleeps on a WaitQueue and
never flushes the workqueue, so waiting under the object lock or vm mutex is safe.
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import SimBug
from ..sync import (
    Deadline,
    SpinLock,
    WaitQueue,
    Workqueue,
    fence_begin_signalling,
    fence_context_alloc,
    fence_end_signalling,
)
from . import cmdparser, hang
from .cmdparser import ENGINE_CLASS_COPY, ENGINE_CLASS_RENDER, CsState
from .request import CREATED, RUNNING, Request, fatal_error

if TYPE_CHECKING:
    from .gpu import Gpu

__all__ = ["ENGINE_CLASS_COPY", "ENGINE_CLASS_RENDER", "ENGINE_CLASS_VIDEO",
           "ENGINE_CLASS_VIDEO_ENHANCE", "Engine", "setup_engines"]

ENGINE_CLASS_VIDEO = 2
ENGINE_CLASS_VIDEO_ENHANCE = 3

#: The gen9 GT2 engines: (name, uabi class, instance).  The model executes MI_* commands on
#: every engine and blitter commands on bcs0 only.
GEN9_ENGINES = (("rcs0", ENGINE_CLASS_RENDER, 0), ("bcs0", ENGINE_CLASS_COPY, 0),
                ("vcs0", ENGINE_CLASS_VIDEO, 0), ("vecs0", ENGINE_CLASS_VIDEO_ENHANCE, 0))
#: Each engine's MMIO base (``RENDER_RING_BASE`` ...), where its registers are.
MMIO_BASE = {"rcs0": 0x2000, "bcs0": 0x22000, "vcs0": 0x12000, "vecs0": 0x1a000}


def setup_engines(gpu: Gpu) -> dict[tuple[int, int], Engine]:
    """Create the platform's engines and register them in ``gpu.engines``."""
    for name, cls, inst in GEN9_ENGINES:
        if (cls, inst) not in gpu.engines:
            Engine(gpu, name, cls, inst)
    engines: dict[tuple[int, int], Engine] = gpu.engines
    return engines


class Engine:
    """One ring: ``submit(request)``, ``idle()``, ``wait_idle(timeout)``, hang recovery."""

    def __init__(self, gpu: Gpu, name: str, uabi_class: int, instance: int) -> None:
        self.gpu = gpu
        self.name = name
        self.uabi_class = uabi_class
        self.instance = instance
        self.lock = SpinLock("gpu.engine")
        self._seqnos = itertools.count(1)
        self._inflight: list[Request] = []           # submitted, not retired, in order
        self._timelines: dict[int, Request] = {}      # context key -> its last request built
        self._wq: Workqueue | None = None
        self._idle = WaitQueue(f"engine {name} idle")
        self.active: Request | None = None
        self.resets = 0
        self.submitted = 0
        self.retired = 0
        gpu.register_engine(uabi_class, instance, self)

    def __repr__(self) -> str:
        return f"<Engine {self.name} class={self.uabi_class}:{self.instance}>"

    def timeline_advance(self, rq: Request) -> tuple[int, int, int, Request | None]:
        """Put ``rq`` (being built) at the end of its context's timeline on this engine.

        Returns its engine-wide number (for names and traces), the (fence context, seqno)
        of its fence, and the previous request of the same timeline, which ``submit`` makes
        it wait for.  A timeline lives while one of its requests is unretired; after that
        the context starts on a fresh fence context, so ``Fence.is_later`` only ever
        compares requests that really complete in that order.
        """
        key = _timeline_key(rq.ctx)
        with self.lock:
            number = next(self._seqnos)
            prev = self._timelines.get(key)
            self._timelines[key] = rq
        if prev is None:
            return number, fence_context_alloc(), 1, None
        return number, prev.fence.context, prev.fence.seqno + 1, prev

    # -- submission ------------------------------------------------------------------------
    def submit(self, rq: Request) -> None:
        """Queue ``rq``: it runs once its awaited fences (and the previous request of its
        timeline, see :meth:`timeline_advance`) have signalled.  Never blocks."""
        if rq.engine is not self or rq.state != CREATED:
            raise SimBug(f"{self!r}: submit of {rq!r}")
        with self.lock:
            self._inflight.append(rq)
            self.submitted += 1
        prev = rq.take_prev()
        if prev is not None:
            rq.await_fence(prev.fence, propagate_error=False)
        if trace.enabled:
            trace.emit("gpu", "request_submit", engine=self.name, seqno=rq.seqno,
                       batch=rq.batch_start, skip=rq.skip_payload, error=rq.error)
        rq.arm(self._ready)

    def _ready(self, rq: Request) -> None:
        self._workqueue().queue(lambda: self._execute(rq))

    def _workqueue(self) -> Workqueue:
        """The engine's kernel thread, started on first use (never under ``lock``)."""
        with self.lock:
            wq = self._wq
        if wq is not None:
            return wq
        fresh = Workqueue(self.name)
        with self.lock:
            if self._wq is None:
                self._wq = fresh
            wq, spare = self._wq, (fresh if self._wq is not fresh else None)
        if spare is not None:
            spare.destroy()         # another thread won the race
        return wq

    # -- the engine thread (the one core loop of this module) ------------------------------------
    def _execute(self, rq: Request) -> None:
        with self.lock:
            rq.state = RUNNING
            self.active = rq
        try:
            banned = rq.ctx is not None and bool(rq.ctx.banned)
            if banned:
                rq.set_error_once(errno.EIO)
            if not (banned or rq.skip_payload or fatal_error(rq.error)):
                self._run_payload(rq)
        finally:
            with self.lock:
                self.active = None
                self._inflight.remove(rq)
                key = _timeline_key(rq.ctx)
                if self._timelines.get(key) is rq:
                    del self._timelines[key]
                self.retired += 1
            try:
                rq.retire()
                self.gpu.reap()      # deferred object puts and closed vmas, now idle
            finally:
                self._idle.wake_up_all()

    def _run_payload(self, rq: Request) -> None:
        cs = CsState(engine_class=self.uabi_class, mmio_base=MMIO_BASE.get(self.name, 0x2000),
                     deadline=Deadline(hang.hang_timeout(self.gpu)))
        with self.lock:
            rq.cs = cs
            stop = rq.error if rq.skip_payload else 0
        if trace.enabled:
            trace.emit("gpu", "request_start", engine=self.name, seqno=rq.seqno,
                       batch=rq.batch_start)
        if stop:
            return
        failure: hang.GpuHang | None = None
        watch = getattr(self.gpu, "page_watch", None)   # vm.PageWatch (host-mode userptr)
        cookie = fence_begin_signalling()
        try:
            if watch is not None:
                watch.begin()
            cmdparser.execute(rq.vm, rq.batch_start, rq.batch_len, cs)
        except hang.GpuHang as exc:
            failure = exc
        except hang.CsStopped as exc:
            rq.set_error_once(exc.errno)
        finally:
            if watch is not None:
                watch.flush()       # what the GPU wrote goes home before the fence signals
            fence_end_signalling(cookie)
            rq.cs = None
        if failure is not None:
            hang.reset(self, rq, failure)

    # -- waiting and cancelling ---------------------------------------------------------------
    def idle(self) -> bool:
        """No request submitted here is still unretired."""
        with self.lock:
            return not self._inflight

    def wait_for(self, cond: Callable[[], bool], timeout: float | None = None) -> bool:
        """Sleep until ``cond()`` holds, re-checked whenever a request retires here."""
        return self._idle.wait_event(cond, timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Sleep until :meth:`idle`; False if ``timeout`` seconds passed first."""
        return self._idle.wait_event(self.idle, timeout)

    def inflight(self) -> list[Request]:
        with self.lock:
            return list(self._inflight)

    def cancel_context(self, ctx: Any, err: int = errno.EIO) -> int:
        """Cancel every unretired request of ``ctx`` here (a ban, a context closed): each
        completes with ``err``; the running one stops at its next check.  Returns how many."""
        victims = [rq for rq in self.inflight() if rq.ctx is ctx and ctx is not None]
        for rq in victims:
            rq.cancel(err)
        if victims and trace.enabled:
            trace.emit("gpu", "cancel", engine=self.name, count=len(victims), error=err)
        return len(victims)

    def fini(self) -> None:
        """Let queued requests finish, then stop the kernel thread (device teardown)."""
        with self.lock:
            wq, self._wq = self._wq, None
        if wq is not None:
            wq.destroy()


def _timeline_key(ctx: Any) -> int:
    """Requests of one context on one engine share a timeline; ``None`` is one context too.

    Keyed by identity only while the context has a request in flight here (the entry goes
    when that request retires), so an id is never reused while it is a key.
    """
    return id(ctx)
