"""softgem.sync: every lock, wait and refcount in the core goes through here.

Each lock has a :class:`LockClass` (its name); the lockdep validator in
:mod:`softgem.sync.lockdep` records the order in which classes are taken across all threads
and reports cycles, recursion, sleeping under spinlocks and bad unlocks.  Waits that are not
locks (fences, workqueue flushes) are declared to it through :class:`LockdepMap`.

:mod:`.task` is the seam the explorer plugs into (the current task, scheduling points,
parking, :func:`kthread_run`); :mod:`.clock` is the one clock the core reads.
"""

from __future__ import annotations

from . import clock, lockdep, task
from .deadline import Backoff, Deadline, now
from .fence import (
    FENCE_MAP,
    Fence,
    fence_begin_signalling,
    fence_context_alloc,
    fence_end_signalling,
)
from .kref import Kref
from .lockclass import LockClass, lock_class
from .lockdep import LockdepReport
from .lockmap import LockdepMap
from .mutex import Mutex, SpinLock
from .rwsem import RwLock, RwSem
from .seqcount import SeqCount
from .task import kthread_run, schedule_point
from .wait import Completion, WaitQueue
from .workqueue import Work, Workqueue

__all__ = [
    "Backoff",
    "Deadline",
    "now",
    "FENCE_MAP",
    "Completion",
    "Fence",
    "Kref",
    "LockClass",
    "LockdepMap",
    "LockdepReport",
    "Mutex",
    "RwLock",
    "RwSem",
    "SeqCount",
    "SpinLock",
    "WaitQueue",
    "Work",
    "Workqueue",
    "clock",
    "fence_begin_signalling",
    "fence_context_alloc",
    "fence_end_signalling",
    "kthread_run",
    "lock_class",
    "lockdep",
    "schedule_point",
    "task",
]
