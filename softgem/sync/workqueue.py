"""Workqueue: kernel worker threads that run queued work items (``alloc_workqueue``).

Workers start through :func:`~.task.kthread_run` (tasks while exploring).  A
work item that raises is never lost: the exception is kept and re-raised, wrapped in
:class:`SimBug`, by the next :meth:`Workqueue.flush` or :meth:`Workqueue.destroy`.

Work item states, under the queue's ``_cv`` lock:

==========  ====================================================  =========================
state       meaning                                               next
==========  ====================================================  =========================
PENDING     queued, not started; in ``_pending`` and ``_outstanding``  RUNNING, CANCELLED
RUNNING     a worker is calling it; still in ``_outstanding``      DONE
DONE        returned or raised                                    --
CANCELLED   ``cancel()`` won before a worker took it              --
==========  ====================================================  =========================

``flush()`` waits for every item queued before it (lowest outstanding sequence number, from
the insertion-ordered ``_outstanding`` dict, at or beyond the flush's mark), not for items
queued after, so a self-requeueing item cannot starve it.

Lockdep, as the kernel does it: each queue has a pseudo-lock (:class:`LockdepMap` of class
``workqueue.<name>``) that a worker holds while running an item and that ``flush``/``destroy``
"take" before waiting.  "An item takes L" plus "L held while flushing" is then reported as a
cycle even when the flush happened not to wait.  A worker returning from an item with locks
still held is a bug kept like an exception.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from ..errors import SimBug
from . import lockdep
from . import task as _task
from .lockmap import LockdepMap

__all__ = ["Work", "Workqueue"]

PENDING, RUNNING, DONE, CANCELLED = "pending", "running", "done", "cancelled"


class Work:
    """One queued call; ``cancel()`` it before it starts, ``wait()`` for it to finish."""

    __slots__ = ("_wq", "fn", "name", "seq", "state")

    def __init__(self, wq: Workqueue, fn: Callable[[], object], seq: int) -> None:
        self._wq = wq
        self.fn = fn
        self.seq = seq
        self.name = getattr(fn, "__qualname__", repr(fn))
        self.state = PENDING

    def cancel(self) -> bool:
        """Stop the item from running; True if it was still pending (``cancel_work``)."""
        return self._wq._cancel(self)

    def pending(self) -> bool:
        return self.state == PENDING

    def done(self) -> bool:
        """Finished running, or cancelled."""
        return self.state in (DONE, CANCELLED)

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until ``done()``; False if ``timeout`` seconds passed first (``flush_work``).

        Raises SimBug when that can only hang: an item waiting for itself, or for another
        item of its own single-worker queue.
        """
        return self._wq._wait_work(self, timeout)

    def __repr__(self) -> str:
        return f"<Work {self.name} #{self.seq} {self.state}>"


class Workqueue:
    """``workers`` kernel threads named ``kworker/<name>:<n>`` running items in queue order."""

    def __init__(self, name: str, workers: int = 1) -> None:
        if workers < 1:
            raise SimBug(f"workqueue {name}: {workers} workers")
        self.name = name
        self._map = LockdepMap(f"workqueue.{name}")
        self._cv = threading.Condition(threading.Lock())
        self._pending: deque[Work] = deque()
        self._outstanding: dict[int, Work] = {}
        self._errors: list[BaseException] = []
        self._next_seq = 0
        self._draining = False
        self._stopping = False
        self._idents: set[int] = set()
        self._running: dict[int, Work] = {}         # worker ident -> its current item
        self._threads = [_task.kthread_run(self._worker, f"kworker/{name}:{i}")
                         for i in range(workers)]

    # -- queueing --------------------------------------------------------------------------
    def queue(self, fn: Callable[[], object]) -> Work:
        """Run ``fn()`` on a worker; returns the item (``queue_work``)."""
        if _task.runtime is not None:
            _task.runtime.point("queue_work", self)
        in_worker = _task.ident() in self._idents
        with self._cv:
            if self._stopping or (self._draining and not in_worker):
                raise SimBug(f"workqueue {self.name}: queue after destroy")
            work = Work(self, fn, self._next_seq)
            self._next_seq += 1
            self._pending.append(work)
            self._outstanding[work.seq] = work
            self._cv.notify_all()
        return work

    def _cancel(self, work: Work) -> bool:
        if _task.runtime is not None:
            _task.runtime.point("cancel_work", self)
        with self._cv:
            if work.state != PENDING:
                return False
            work.state = CANCELLED      # the worker that pops it skips it
            del self._outstanding[work.seq]
            self._cv.notify_all()
            return True

    # -- waiting ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Wait for every item queued so far; raise SimBug if any item raised."""
        self._check_not_own_worker("flush")
        with self._cv:
            mark = self._next_seq
        self._wait(lambda: not self._outstanding or next(iter(self._outstanding)) >= mark,
                   None, f"flush_workqueue {self.name}")
        self._raise_errors()

    def destroy(self) -> None:
        """Run everything still queued (items may requeue), stop and join the workers."""
        self._check_not_own_worker("destroy")
        with self._cv:
            if self._draining:
                raise SimBug(f"workqueue {self.name}: destroyed twice")
            self._draining = True
        self._wait(lambda: not self._outstanding, None, f"destroy_workqueue {self.name}")
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for t in self._threads:
            t.join()
        self._raise_errors()

    def _wait_work(self, work: Work, timeout: float | None) -> bool:
        if _task.ident() in self._idents and not work.done():
            with self._cv:
                mine = work.state == RUNNING and work is self._running.get(_task.ident())
            if mine or len(self._threads) == 1:
                raise SimBug(f"workqueue {self.name}: work {work.name} waited for from a "
                             "work item that blocks it")
        # Like the kernel, a single item's wait involves the queue's pseudo-lock only when
        # the queue runs one item at a time (then the wait really depends on every item).
        return self._wait(work.done, timeout, f"flush_work {work.name}",
                          whole_queue=len(self._threads) == 1)

    def _wait(self, cond: Callable[[], bool], timeout: float | None, what: str,
              whole_queue: bool = True) -> bool:
        lockdep.might_sleep(what)
        if whole_queue:
            self._map.might_wait()
        rt = _task.runtime
        if rt is not None and not rt.park(what.split()[0], self, cond, timeout):
            return cond()
        with self._cv:
            return self._cv.wait_for(cond, timeout)

    def _check_not_own_worker(self, what: str) -> None:
        if _task.ident() in self._idents:
            raise SimBug(f"workqueue {self.name}: {what} from its own work item deadlocks")

    def _raise_errors(self) -> None:
        with self._cv:
            errors, self._errors = self._errors, []
        if errors:
            first = errors[0]
            raise SimBug(f"workqueue {self.name}: {len(errors)} work item(s) raised; first: "
                         f"{type(first).__name__}: {first}") from first

    # -- the worker thread -----------------------------------------------------------------
    def _worker(self) -> None:
        with self._cv:
            self._idents.add(_task.ident())
        while True:
            rt = _task.runtime
            if rt is not None:
                rt.park("worker.wait", self, lambda: bool(self._pending) or self._stopping)
            with self._cv:
                while not self._pending and not self._stopping:
                    self._cv.wait()
                if not self._pending:
                    return
                work = self._pending.popleft()
                if work.state == CANCELLED:
                    continue
                work.state = RUNNING
                self._running[_task.ident()] = work
            error = self._run(work)
            with self._cv:
                del self._running[_task.ident()]
                work.state = DONE
                del self._outstanding[work.seq]
                if error is not None:
                    self._errors.append(error)
                self._cv.notify_all()

    def _run(self, work: Work) -> BaseException | None:
        """Call the item with the queue's pseudo-lock held; its failure, if any."""
        before = len(lockdep.held_locks())
        self._map.acquire()
        try:
            work.fn()
            error: BaseException | None = None
        except BaseException as exc:
            error = exc
        finally:
            self._map.release()
        leaked = lockdep.held_locks()[before:]
        if leaked and error is None:
            names = ", ".join(c.name for c in leaked)
            error = SimBug(f"work {work.name} returned with locks held: {names}")
        return error

    def __repr__(self) -> str:
        return f"<Workqueue {self.name} workers={len(self._threads)}>"
