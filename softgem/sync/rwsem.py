"""Reader/writer locks: RwSem (sleeping, ``rw_semaphore``) and RwLock (spinning, ``rwlock_t``).

Writers are preferred once waiting (a new reader queues behind a waiting writer), as the
kernel's rwsem does; this also means a recursive read can deadlock against a waiting writer,
which is exactly why lockdep treats recursive reads as a dependency.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import SimBug
from . import lockdep
from .lockclass import LockClass, lock_class

__all__ = ["RwSem", "RwLock"]


class RwSem:
    __slots__ = ("_cv", "_readers", "_writer", "_writers_waiting", "lock_class")
    _kind = "rwsem"
    _spin = False

    def __init__(self, name: str) -> None:
        self.lock_class: LockClass = lock_class(name, self._kind)
        self._cv = threading.Condition(threading.Lock())
        self._readers: dict[int, int] = {}
        self._writer: int | None = None
        self._writers_waiting = 0

    # -- read side -------------------------------------------------------------------------
    def down_read(self, subclass: int = 0) -> None:
        if not self._spin:
            lockdep.might_sleep(f"{self._kind} {self.lock_class.name}")
        lockdep.lock_acquire(self.lock_class, read=True, spin=self._spin, subclass=subclass)
        me = threading.get_ident()
        with self._cv:
            if self._writer == me:
                raise SimBug(f"read lock of {self.lock_class} while holding it for write")
            while self._writer is not None or self._writers_waiting:
                self._cv.wait()
            self._readers[me] = self._readers.get(me, 0) + 1
        lockdep.lock_acquired(self.lock_class, read=True, spin=self._spin, subclass=subclass)

    def down_read_trylock(self) -> bool:
        me = threading.get_ident()
        with self._cv:
            if self._writer is not None or self._writers_waiting:
                return False
            self._readers[me] = self._readers.get(me, 0) + 1
        lockdep.lock_acquire(self.lock_class, read=True, trylock=True, spin=self._spin)
        lockdep.lock_acquired(self.lock_class, read=True, spin=self._spin)
        return True

    def up_read(self) -> None:
        me = threading.get_ident()
        with self._cv:
            n = self._readers.get(me, 0)
            if n == 0:
                raise SimBug(f"up_read of {self.lock_class} not held for read by this thread")
            if n == 1:
                del self._readers[me]
            else:
                self._readers[me] = n - 1
            lockdep.lock_release(self.lock_class)
            if not self._readers:
                self._cv.notify_all()

    # -- write side ------------------------------------------------------------------------
    def down_write(self, subclass: int = 0) -> None:
        if not self._spin:
            lockdep.might_sleep(f"{self._kind} {self.lock_class.name}")
        lockdep.lock_acquire(self.lock_class, spin=self._spin, subclass=subclass)
        me = threading.get_ident()
        with self._cv:
            if self._writer == me or me in self._readers:
                raise SimBug(f"recursive locking of {self.lock_class}")
            self._writers_waiting += 1
            try:
                while self._writer is not None or self._readers:
                    self._cv.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = me
        lockdep.lock_acquired(self.lock_class, spin=self._spin, subclass=subclass)

    def down_write_trylock(self) -> bool:
        with self._cv:
            if self._writer is not None or self._readers:
                return False
            self._writer = threading.get_ident()
        lockdep.lock_acquire(self.lock_class, trylock=True, spin=self._spin)
        lockdep.lock_acquired(self.lock_class, spin=self._spin)
        return True

    def up_write(self) -> None:
        with self._cv:
            if self._writer != threading.get_ident():
                raise SimBug(f"up_write of {self.lock_class} by a thread that does not hold it")
            self._writer = None
            lockdep.lock_release(self.lock_class)
            self._cv.notify_all()

    def downgrade_write(self) -> None:
        """Turn a held write lock into a read lock without letting a writer in between."""
        me = threading.get_ident()
        with self._cv:
            if self._writer != me:
                raise SimBug(f"downgrade of {self.lock_class} not held for write")
            self._writer = None
            self._readers[me] = self._readers.get(me, 0) + 1
            self._cv.notify_all()

    # -- queries and context managers ------------------------------------------------------
    def is_locked(self) -> bool:
        return self._writer is not None or bool(self._readers)

    def held_for_write(self) -> bool:
        return self._writer == threading.get_ident()

    def held_by_me(self) -> bool:
        me = threading.get_ident()
        return self._writer == me or me in self._readers

    @contextmanager
    def read(self) -> Iterator[None]:
        self.down_read()
        try:
            yield
        finally:
            self.up_read()

    @contextmanager
    def write(self) -> Iterator[None]:
        self.down_write()
        try:
            yield
        finally:
            self.up_write()


class RwLock(RwSem):
    """A spinning reader/writer lock: sleeping while holding it is reported."""

    __slots__ = ()
    _kind = "rwlock"
    _spin = True

    read_lock = RwSem.down_read
    read_unlock = RwSem.up_read
    write_lock = RwSem.down_write
    write_unlock = RwSem.up_write
