"""Reader/writer locks: RwSem (sleeping, ``rw_semaphore``) and RwLock (spinning, ``rwlock_t``).

Writers are preferred once waiting (a new reader queues behind a waiting writer), as the
kernel's rwsem does; this also means a recursive read of an RwSem can deadlock against a
writer that queued in between, which is why lockdep reports it.  An RwLock reader that
already holds the lock does not queue behind writers (kernel ``rwlock_t`` readers may
recurse), so lockdep allows that.

State, all under ``_cv``'s lock (explored: the same table, read by the parking preludes):

=========  ===============  ==================  ===========================================
_writer    _readers         _writers_waiting    meaning
=========  ===============  ==================  ===========================================
None       {}               0                   free
None       {}               > 0                 free, a writer is about to take it
None       {ident: depth}   any                 read-held; new readers wait while writers
                                                wait (RwLock: unless they already hold it)
ident      {}               any                 write-held by ``ident``
=========  ===============  ==================  ===========================================

Every transition that can let a waiter in (last reader leaves, writer leaves, downgrade, a
waiting writer gives up) does ``notify_all``; waiters re-check the table in a loop.
"""

from __future__ import annotations

import threading
from types import TracebackType

from ..errors import SimBug
from . import lockdep
from . import task as _task
from .lockclass import LockClass, lock_class

__all__ = ["RwSem", "RwLock"]


class RwSem:
    """A sleeping reader/writer lock; ``with sem:`` takes it for write."""

    __slots__ = ("_cv", "_readers", "_what", "_writer", "_writers_waiting", "lock_class")
    _kind = "rwsem"
    _spin = False
    _recursive_read = False

    def __init__(self, name: str) -> None:
        self.lock_class: LockClass = lock_class(name, self._kind)
        self._cv = threading.Condition(threading.Lock())
        self._readers: dict[int, int] = {}
        self._writer: int | None = None
        self._writers_waiting = 0
        self._what = f"{self._kind} {name}"     # might_sleep's label, built once

    # -- read side -------------------------------------------------------------------------
    def down_read(self, subclass: int = 0) -> None:
        if not self._spin:
            lockdep.might_sleep(self._what)
        lockdep.lock_acquire(self.lock_class, read=True, spin=self._spin, subclass=subclass,
                             lock=self)
        me = _task.ident()
        if _task.runtime is not None and self._writer != me:
            recursing = self._recursive_read and me in self._readers
            _task.runtime.park("rwsem.down_read", self, lambda: self._writer is None and not (
                self._writers_waiting and not recursing))
        with self._cv:
            if self._writer == me:
                raise SimBug(f"read lock of {self.lock_class} while holding it for write")
            recursing = self._recursive_read and me in self._readers
            while self._writer is not None or (self._writers_waiting and not recursing):
                self._cv.wait()
            self._readers[me] = self._readers.get(me, 0) + 1
        lockdep.lock_acquired(self.lock_class, read=True, spin=self._spin, subclass=subclass,
                              lock=self)

    def down_read_trylock(self) -> bool:
        me = _task.ident()
        if _task.runtime is not None:
            _task.runtime.point("rwsem.down_read_trylock", self)
        lockdep.lock_acquire(self.lock_class, read=True, trylock=True, spin=self._spin,
                             lock=self)
        with self._cv:
            recursing = self._recursive_read and me in self._readers
            if self._writer is not None or (self._writers_waiting and not recursing):
                return False
            self._readers[me] = self._readers.get(me, 0) + 1
        lockdep.lock_acquired(self.lock_class, read=True, spin=self._spin, trylock=True,
                              lock=self)
        return True

    def up_read(self) -> None:
        if _task.runtime is not None:
            _task.runtime.point("rwsem.up_read", self)
        me = _task.ident()
        with self._cv:
            n = self._readers.get(me, 0)
            if n == 0:
                lockdep.bad_unlock(self.lock_class, lock=self,
                                   why="this thread does not hold it for read")
                raise SimBug(f"up_read of {self.lock_class} not held for read by this thread")
            if n == 1:
                del self._readers[me]
            else:
                self._readers[me] = n - 1
            lockdep.lock_release(self.lock_class, lock=self)
            if not self._readers:
                self._cv.notify_all()

    # -- write side ------------------------------------------------------------------------
    def down_write(self, subclass: int = 0) -> None:
        if not self._spin:
            lockdep.might_sleep(self._what)
        lockdep.lock_acquire(self.lock_class, spin=self._spin, subclass=subclass, lock=self)
        me = _task.ident()
        if _task.runtime is not None and self._writer != me and me not in self._readers:
            self._park_writer()
        with self._cv:
            if self._writer == me or me in self._readers:
                raise SimBug(f"recursive locking of {self.lock_class}")
            self._writers_waiting += 1
            try:
                while self._writer is not None or self._readers:
                    self._cv.wait()
            except BaseException:
                self._writers_waiting -= 1
                self._cv.notify_all()       # readers queued behind us may go now
                raise
            self._writers_waiting -= 1
            self._writer = me
        lockdep.lock_acquired(self.lock_class, spin=self._spin, subclass=subclass, lock=self)

    def _park_writer(self) -> None:
        """Explorer prelude of down_write: queue as a waiting writer until the lock is free."""
        rt = _task.runtime
        assert rt is not None
        self._writers_waiting += 1
        try:
            rt.park("rwsem.down_write", self,
                    lambda: self._writer is None and not self._readers)
        finally:
            self._writers_waiting -= 1

    def down_write_trylock(self) -> bool:
        if _task.runtime is not None:
            _task.runtime.point("rwsem.down_write_trylock", self)
        lockdep.lock_acquire(self.lock_class, trylock=True, spin=self._spin, lock=self)
        with self._cv:
            if self._writer is not None or self._readers:
                return False
            self._writer = _task.ident()
        lockdep.lock_acquired(self.lock_class, spin=self._spin, trylock=True, lock=self)
        return True

    def up_write(self) -> None:
        if _task.runtime is not None:
            _task.runtime.point("rwsem.up_write", self)
        with self._cv:
            if self._writer != _task.ident():
                lockdep.bad_unlock(self.lock_class, lock=self,
                                   why="this thread does not hold it for write")
                raise SimBug(f"up_write of {self.lock_class} by a thread that does not hold it")
            self._writer = None
            lockdep.lock_release(self.lock_class, lock=self)
            self._cv.notify_all()

    def downgrade_write(self) -> None:
        """Turn a held write lock into a read lock without letting a writer in between."""
        if _task.runtime is not None:
            _task.runtime.point("rwsem.downgrade_write", self)
        me = _task.ident()
        with self._cv:
            if self._writer != me:
                raise SimBug(f"downgrade of {self.lock_class} not held for write")
            self._writer = None
            self._readers[me] = self._readers.get(me, 0) + 1
            lockdep.lock_downgrade(self.lock_class, lock=self)
            self._cv.notify_all()

    # -- queries and context managers ------------------------------------------------------
    def is_locked(self) -> bool:
        return self._writer is not None or bool(self._readers)

    def held_for_write(self) -> bool:
        return self._writer == _task.ident()

    def held_by_me(self) -> bool:
        me = _task.ident()
        return self._writer == me or me in self._readers

    def read(self, subclass: int = 0) -> _ReadGuard:
        """``with sem.read():`` -- down_read/up_read."""
        return _ReadGuard(self, subclass)

    def write(self, subclass: int = 0) -> _WriteGuard:
        """``with sem.write():`` -- down_write/up_write."""
        return _WriteGuard(self, subclass)

    def __enter__(self) -> RwSem:
        self.down_write()
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.up_write()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.lock_class.name!r})"


class _ReadGuard:
    __slots__ = ("_sem", "_subclass")

    def __init__(self, sem: RwSem, subclass: int) -> None:
        self._sem = sem
        self._subclass = subclass

    def __enter__(self) -> None:
        self._sem.down_read(self._subclass)

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._sem.up_read()


class _WriteGuard(_ReadGuard):
    __slots__ = ()

    def __enter__(self) -> None:
        self._sem.down_write(self._subclass)

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._sem.up_write()


class RwLock(RwSem):
    """A spinning reader/writer lock: sleeping while holding it is reported; reads recurse."""

    __slots__ = ()
    _kind = "rwlock"
    _spin = True
    _recursive_read = True

    read_lock = RwSem.down_read
    read_unlock = RwSem.up_read
    write_lock = RwSem.down_write
    write_unlock = RwSem.up_write
