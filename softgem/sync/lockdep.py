"""Lock-dependency validator hook points (filled in by the lockdep implementation).

Every primitive in :mod:`softgem.sync` calls these functions; they are the one place a
validator (and later the explorer) observes lock traffic.
"""

from __future__ import annotations

from .lockclass import LockClass

__all__ = ["lock_acquire", "lock_acquired", "lock_release", "might_sleep", "enabled"]

enabled = False


def lock_acquire(cls: LockClass, *, read: bool = False, trylock: bool = False,
                 spin: bool = False, subclass: int = 0) -> None:
    """Called before blocking on a lock of class ``cls``."""


def lock_acquired(cls: LockClass, *, read: bool = False, spin: bool = False,
                  subclass: int = 0) -> None:
    """Called once the lock is held."""


def lock_release(cls: LockClass) -> None:
    """Called when a lock of class ``cls`` is released."""


def might_sleep(what: str) -> None:
    """Called before any operation that may sleep (waits, mutexes, rwsems)."""
