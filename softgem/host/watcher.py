"""The watcher: one thread that waits on fds that signal "something ended".

Two kinds are registered: the supervisor's peer end of every device file's socketpair (it
hangs up when the program's last copy of the other end is closed) and a pidfd per traced
process (readable when the process has exited).  The callback for an fd runs once, on the
watcher thread, after the fd was removed from the set; the callback owns the fd from then on.

This waiting is the supervisor's own event loop, outside the core (design.md, "Concurrency
model"), so it uses ``select.epoll`` directly.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable

from ..sync import Mutex, WaitQueue

__all__ = ["Watcher"]

_EVENTS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
_HANGUP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR


class Watcher:
    def __init__(self, on_error: Callable[[str, BaseException], None]) -> None:
        self._epoll = select.epoll()
        self._lock = Mutex("host.watcher")
        # fd -> (mask, fn, early): ``early`` callbacks may also run in catch_up
        self._callbacks: dict[int, tuple[int, Callable[[], None], bool]] = {}
        self._releasing = 0             # early callbacks running (either thread)
        self._released = WaitQueue("host.watcher_released")
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._stopping = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name="softgem-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def watch(self, fd: int, fn: Callable[[], None], hangup_only: bool = False,
              early: bool = False) -> None:
        """Call ``fn`` once when ``fd`` hangs up (``hangup_only``) or becomes readable.
        ``early``: a hang-up callback that never blocks, so :meth:`catch_up` may run it."""
        mask = _HANGUP if hangup_only else _EVENTS
        with self._lock:
            self._callbacks[fd] = (mask, fn, early and hangup_only)
            self._epoll.register(fd, mask)

    def catch_up(self) -> None:
        """Fire, on the caller's thread, the ``early`` hang-ups that are already pending.

        A close returns before this thread has seen the hang-up; an ioctl the same program
        makes after its close must find the file released, as on Linux, where the last
        ``fput`` runs before close(2) returns to the program (closing a sw_sync timeline
        signals its points).  One the thread is firing meanwhile is waited for: a release
        half done would show half its effects.  Only ``early`` ones (files that are not
        devices: their release never waits) are run or waited for here: a device file's
        release may wait for GPU work that this very caller is about to unblock (an INC of
        a sw_sync timeline its batch waits on), and process exits (pidfds) are the thread's."""
        for fd, _ev in self._epoll.poll(0):
            if fd != self._wake_r:
                self._fire(fd, early_only=True)
        self._released.wait_event(lambda: self._releasing == 0)

    def pending(self) -> int:
        with self._lock:
            return len(self._callbacks)

    def _fire(self, fd: int, early_only: bool = False) -> None:
        """Run ``fd``'s callback if its event is still there (``early_only``: if early).

        Two pollers (this thread and :meth:`catch_up`) may hold the same event; the first to
        fire it closes the fd, and the number may then be reused by a new registration.  So
        the event is checked again under the lock, on the fd itself: while its entry is in
        the table its fd is open and is the one registered."""
        with self._lock:
            entry = self._callbacks.get(fd)
            if entry is None or (early_only and not entry[2]):
                return
            check = select.poll()
            check.register(fd, entry[0])
            if not check.poll(0):
                return                  # a stale event: the fd number has a new owner
            del self._callbacks[fd]
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass
            early = entry[2]
            self._releasing += early
        try:
            entry[1]()
        except Exception as exc:
            self._on_error("watcher callback", exc)
        finally:
            if early:
                with self._lock:
                    self._releasing -= 1
                self._released.wake_up_all()

    def _run(self) -> None:
        while True:
            for fd, _ev in self._epoll.poll():
                if fd == self._wake_r:
                    if self._stopping:
                        return
                    continue
                self._fire(fd)

    def drain(self) -> list[Callable[[], None]]:
        """Stop the thread and hand back the callbacks that never fired (their fds are still
        open); the caller runs them."""
        self._stopping = True
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            left = [fn for _mask, fn, _early in self._callbacks.values()]
            self._callbacks.clear()
        return left

    def close(self) -> None:
        self._epoll.close()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
