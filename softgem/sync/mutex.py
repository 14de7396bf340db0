"""Mutex and SpinLock: exclusive locks with an owner and a lock class.

``_owner`` protocol (the :func:`~.task.ident` of the holder: a thread, or an explorer task):

=========  ==================================================================
value      meaning
=========  ==================================================================
None       free, or being released (set to None *before* the inner release)
ident      held by that thread; only that thread writes it back to None
=========  ==================================================================

Only the holder writes ``_owner`` while it is set, so a thread reading its own ident there
(recursion check, ``held_by_me``) is never fooled by a race.
"""

from __future__ import annotations

import threading
from types import TracebackType

from ..errors import SimBug
from . import lockdep
from . import task as _task
from .lockclass import LockClass, lock_class

__all__ = ["Mutex", "SpinLock"]


class Mutex:
    """A sleeping exclusive lock (``struct mutex``).  Not recursive: re-locking is a bug."""

    __slots__ = ("_lock", "_owner", "_what", "lock_class")
    _kind = "mutex"
    _spin = False

    def __init__(self, name: str) -> None:
        self.lock_class: LockClass = lock_class(name, self._kind)
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._what = f"{self._kind} {name}"     # might_sleep's label, built once

    def lock(self, subclass: int = 0) -> None:
        """Take the lock; ``subclass`` is ``mutex_lock_nested``'s (for same-class nesting)."""
        me = _task.ident()
        rt = _task.runtime
        if rt is not None and self._owner != me:
            rt.park("mutex.lock", self, lambda: not self._lock.locked())
        if self._owner == me:
            if lockdep.enabled:
                lockdep.lock_acquire(self.lock_class, spin=self._spin, subclass=subclass,
                                     lock=self)
            raise SimBug(f"recursive locking of {self.lock_class}")
        if lockdep.enabled:
            # Hooks only while validating: the hot path (benchmarks) pays one global load.
            if not self._spin:
                lockdep.might_sleep(self._what)
            lockdep.lock_acquire(self.lock_class, spin=self._spin, subclass=subclass, lock=self)
            self._lock.acquire()
            self._owner = me
            lockdep.lock_acquired(self.lock_class, spin=self._spin, subclass=subclass,
                                  lock=self)
        else:
            self._lock.acquire()
            self._owner = me

    def trylock(self) -> bool:
        """Take the lock if it is free.  Never waits, so lockdep records no dependency."""
        if _task.runtime is not None:
            _task.runtime.point("mutex.trylock", self)
        lockdep.lock_acquire(self.lock_class, trylock=True, spin=self._spin, lock=self)
        if not self._lock.acquire(blocking=False):
            return False
        self._owner = _task.ident()
        lockdep.lock_acquired(self.lock_class, spin=self._spin, trylock=True, lock=self)
        return True

    def unlock(self) -> None:
        if _task.runtime is not None:
            _task.runtime.point("mutex.unlock", self)
        if self._owner != _task.ident():
            lockdep.bad_unlock(self.lock_class, lock=self)
            raise SimBug(f"unlock of {self.lock_class} by a thread that does not hold it")
        self._owner = None
        if lockdep.enabled:
            lockdep.lock_release(self.lock_class, lock=self)
        self._lock.release()

    def is_locked(self) -> bool:
        return self._lock.locked()

    def held_by_me(self) -> bool:
        return self._owner == _task.ident()

    def nested(self, subclass: int) -> _Nested:
        """``with m.nested(1):`` -- ``lock(subclass)`` as a context manager."""
        return _Nested(self, subclass)

    def __enter__(self) -> Mutex:
        self.lock(0)
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.unlock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.lock_class.name!r})"


class _Nested:
    __slots__ = ("_mutex", "_subclass")

    def __init__(self, mutex: Mutex, subclass: int) -> None:
        self._mutex = mutex
        self._subclass = subclass

    def __enter__(self) -> Mutex:
        self._mutex.lock(self._subclass)
        return self._mutex

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._mutex.unlock()


class SpinLock(Mutex):
    """A spinning lock (``spinlock_t``): sleeping while holding one is reported."""

    __slots__ = ()
    _kind = "spinlock"
    _spin = True
