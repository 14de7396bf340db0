"""Waiting: WaitQueue (``wait_event``/``wake_up_all``) and Completion.

No lost wake-ups, the two-column argument (waker changes state *before* ``wake_up_all``):

    waiter                                   waker
    ------                                   -----
    take _cv lock
    cond() is False                          state = new value
    _cv.wait(): releases the lock and        wake_up_all(): takes the _cv lock, which
      sleeps in one atomic step                only succeeds once the waiter sleeps,
                                               then notify_all() reaches it
    wakes, re-checks cond(): True

If the waker's state change lands before the waiter's check, the check sees it.  The early
``cond()`` test outside the lock is only a fast path; a False there is re-checked under it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from . import clock, lockdep
from . import task as _task

__all__ = ["WaitQueue", "Completion"]


class WaitQueue:
    """Threads sleep until a condition holds; wakers change state, then call ``wake_up_all``.

    The condition is always re-checked under the queue's internal lock, so a wake-up that
    happens between a waiter's check and its sleep is never lost.
    """

    __slots__ = ("_cv", "_what", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._cv = threading.Condition(threading.Lock())
        self._what = f"wait_event {name}"       # might_sleep's label, built once

    def wait_event(self, cond: Callable[[], bool], timeout: float | None = None) -> bool:
        """Sleep until ``cond()``; False if ``timeout`` seconds passed first.

        Like the kernel's ``wait_event``, this counts as a sleep for lockdep even when the
        condition already holds: the bug (waiting under a spinlock) is there either way.
        """
        lockdep.might_sleep(self._what)
        rt = _task.runtime
        if rt is not None:
            return rt.park("wait_event", self, cond, timeout) or cond()
        if cond():
            return True
        deadline = None if timeout is None else clock.monotonic() + timeout
        with self._cv:
            while not cond():
                if deadline is None:
                    self._cv.wait()
                else:
                    left = deadline - clock.monotonic()
                    if left <= 0:
                        return cond()
                    self._cv.wait(left)
        return True

    def wake_up_all(self) -> None:
        if _task.runtime is not None:
            _task.runtime.point("wake_up_all", self)
        with self._cv:
            self._cv.notify_all()


class Completion:
    """A one-shot event (``struct completion`` used with ``complete_all``)."""

    __slots__ = ("_done", "_wq")

    def __init__(self, name: str) -> None:
        self._done = False
        self._wq = WaitQueue(name)

    def complete_all(self) -> None:
        self._done = True
        self._wq.wake_up_all()

    complete = complete_all

    def done(self) -> bool:
        return self._done

    def wait(self, timeout: float | None = None) -> bool:
        return self._wq.wait_event(lambda: self._done, timeout)

    def reinit(self) -> None:
        self._done = False
