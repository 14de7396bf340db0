"""Mutex and SpinLock: exclusive locks with an owner and a lock class."""

from __future__ import annotations

import threading
from types import TracebackType

from ..errors import SimBug
from . import lockdep
from .lockclass import LockClass, lock_class

__all__ = ["Mutex", "SpinLock"]


class Mutex:
    """A sleeping exclusive lock (``struct mutex``).  Not recursive: re-locking is a bug."""

    __slots__ = ("_lock", "_owner", "lock_class")
    _kind = "mutex"
    _spin = False

    def __init__(self, name: str) -> None:
        self.lock_class: LockClass = lock_class(name, self._kind)
        self._lock = threading.Lock()
        self._owner: int | None = None

    def lock(self, subclass: int = 0) -> None:
        me = threading.get_ident()
        if not self._spin:
            lockdep.might_sleep(f"{self._kind} {self.lock_class.name}")
        lockdep.lock_acquire(self.lock_class, spin=self._spin, subclass=subclass)
        if self._owner == me:
            raise SimBug(f"recursive locking of {self.lock_class}")
        self._lock.acquire()
        self._owner = me
        lockdep.lock_acquired(self.lock_class, spin=self._spin, subclass=subclass)

    def trylock(self) -> bool:
        lockdep.lock_acquire(self.lock_class, trylock=True, spin=self._spin)
        if not self._lock.acquire(blocking=False):
            lockdep.lock_release(self.lock_class)
            return False
        self._owner = threading.get_ident()
        lockdep.lock_acquired(self.lock_class, spin=self._spin)
        return True

    def unlock(self) -> None:
        if self._owner != threading.get_ident():
            raise SimBug(f"unlock of {self.lock_class} by a thread that does not hold it")
        self._owner = None
        lockdep.lock_release(self.lock_class)
        self._lock.release()

    def is_locked(self) -> bool:
        return self._lock.locked()

    def held_by_me(self) -> bool:
        return self._owner == threading.get_ident()

    def __enter__(self) -> Mutex:
        self.lock()
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.unlock()


class SpinLock(Mutex):
    """A spinning lock (``spinlock_t``): sleeping while holding one is reported."""

    __slots__ = ()
    _kind = "spinlock"
    _spin = True
