"""LockdepMap: a lock that is never taken, only declared to lockdep (``struct lockdep_map``).

Waits that are not locks still create lock-like dependencies: flushing a workqueue waits for
every work item, waiting on a fence waits for whoever signals it.  The kernel models each as
a pseudo-lock that the waiting side "takes and drops" and the working side "holds" while it
runs; lockdep then sees, for example, "work item takes L" and "L held while flushing" as the
cycle it is.  With lockdep disabled every method is one call and one flag test.
"""

from __future__ import annotations

from . import lockdep
from .lockclass import LockClass, lock_class

__all__ = ["LockdepMap"]


class LockdepMap:
    """A pseudo-lock of class ``name`` (kind ``"lockdep_map"``): never blocks, never spins."""

    __slots__ = ("lock_class",)

    def __init__(self, name: str) -> None:
        self.lock_class: LockClass = lock_class(name, "lockdep_map")

    def acquire(self, *, read: bool = False, trylock: bool = False) -> None:
        lockdep.lock_acquire(self.lock_class, read=read, trylock=trylock, lock=self)
        lockdep.lock_acquired(self.lock_class, read=read, trylock=trylock, lock=self)

    def release(self) -> None:
        lockdep.lock_release(self.lock_class, lock=self)

    def might_wait(self) -> None:
        """``lock_map_acquire`` + ``lock_map_release``: about to wait for the holders."""
        self.acquire()
        self.release()

    def held_by_me(self) -> bool:
        return lockdep.enabled and lockdep.is_held(self)

    def __repr__(self) -> str:
        return f"LockdepMap({self.lock_class.name!r})"
