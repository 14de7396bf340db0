"""softgem.sync: every lock, wait and refcount in the core goes through here.

Each lock has a :class:`LockClass` (its name); the lockdep validator in
:mod:`softgem.sync.lockdep` records the order in which classes are taken across all threads.
"""

from __future__ import annotations

from . import lockdep
from .kref import Kref
from .lockclass import LockClass, lock_class
from .mutex import Mutex, SpinLock
from .rwsem import RwLock, RwSem
from .seqcount import SeqCount
from .wait import Completion, WaitQueue

__all__ = [
    "Completion",
    "Kref",
    "LockClass",
    "Mutex",
    "RwLock",
    "RwSem",
    "SeqCount",
    "SpinLock",
    "WaitQueue",
    "lock_class",
    "lockdep",
]
