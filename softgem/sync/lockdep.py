"""Lockdep: a lock-dependency validator in the spirit of the kernel's ``CONFIG_PROVE_LOCKING``.

Every primitive in :mod:`softgem.sync` calls the hook functions below; they are the one place
a validator (and later the explorer) observes lock traffic.  When enabled, lockdep keeps

* per task (a thread, or an explorer task: :mod:`.task`), a stack of held locks (:class:`~.lockdep_held.HeldLock`: class, subclass,
  read/write, spin, trylock, where it was taken);
* globally, a graph over (lock class, subclass) of "held A while taking B", with the first
  chain that created each edge (:mod:`.lockdep_graph`);

and reports, without raising and without needing the deadlock to happen:

================  ==========================================================================
kind              when
================  ==========================================================================
cycle             a new edge would close a cycle in the graph (ABBA across threads, or longer)
recursive         a class (and subclass) already held is taken again; a recursive *read* of
                  an ``RwLock`` is allowed, a second read of an ``RwSem`` is not
sleep-in-atomic   ``might_sleep`` (mutex, rwsem, waits, fences) while a SpinLock/RwLock is held
bad-unlock        a primitive is released by a thread that does not hold it
================  ==========================================================================

A trylock cannot wait, so it adds no edge and skips the recursion check, but the lock is
pushed on the held stack (locks taken under it do depend on it).  Each problem is reported
once (until :func:`clear_reports`/:func:`reset`); reports are collected, optionally echoed to
stderr, and raised as :class:`SimBug` only in ``fatal`` mode.

Cost: with lockdep disabled every hook returns on its first statement.  Enabling or resetting
starts a new *generation*: held stacks from before are forgotten lazily by each thread (locks
taken while disabled are untracked; releasing one is silently ignored, the primitive itself
has already checked ownership).

Rejected alternatives: raising inside the primitive by default (a report must not change the
run it observes); identifying locks by ``id()`` in the graph (classes, as in the kernel, make
one run's evidence cover every instance).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import Protocol

from ..errors import SimBug
from . import task as _task
from .lockclass import LockClass
from .lockdep_graph import LockGraph
from .lockdep_held import (
    RECURSIVE_READ_KINDS,
    Chain,
    HeldLock,
    Key,
    caller_site,
    capture_chain,
    capture_stack,
    describe,
)
from .lockdep_report import (
    KINDS,
    LockdepReport,
    acquire_intro,
    bad_unlock_report,
    cycle_report,
    recursive_report,
    sleep_report,
)

__all__ = [
    "KINDS", "LockdepReport",
    "enabled", "enable", "disable", "reset", "reports", "clear_reports", "expect_reports",
    "prime", "dependencies", "held_locks", "is_held", "assert_held", "assert_not_held",
    "lock_acquire", "lock_acquired", "lock_release", "lock_downgrade", "bad_unlock",
    "might_sleep",
]

enabled = False     # read by every hook first; flip with enable()/disable()
_echo = False       # print each report to stderr when it is made
_fatal = False      # raise SimBug from the hook after recording a report

_generation = 0
_graph = LockGraph()
_reports: list[LockdepReport] = []
_seen: set[tuple[object, ...]] = set()
_reports_lock = threading.Lock()


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.held: list[HeldLock] = []
        self.generation = -1


_tls = _ThreadState()


class _TaskState:
    """The same per-task record for an explorer task (not a ``threading.local``)."""

    __slots__ = ("generation", "held")

    def __init__(self) -> None:
        self.held: list[HeldLock] = []
        self.generation = -1


class _Lock(Protocol):
    @property
    def lock_class(self) -> LockClass: ...


def _held() -> list[HeldLock]:
    rt = _task.runtime
    st: _ThreadState | _TaskState
    if rt is None:
        st = _tls
    else:
        # Explored tasks share one thread: their held stacks live in the task's own store.
        d = rt.local()
        found = d.get("lockdep")
        if found is None:
            found = d["lockdep"] = _TaskState()
        st = found
    if st.generation != _generation:
        st.held = []
        st.generation = _generation
    return st.held


def _emit(report: LockdepReport, key: tuple[object, ...]) -> None:
    with _reports_lock:
        if key in _seen:
            return
        _seen.add(key)
        _reports.append(report)
    if _echo:
        print(report.message, file=sys.stderr, flush=True)
    if _fatal:
        raise SimBug(report.message)


# -- hooks (called by the primitives) ------------------------------------------------------
def lock_acquire(cls: LockClass, *, read: bool = False, trylock: bool = False,
                 spin: bool = False, subclass: int = 0, lock: object | None = None) -> None:
    """Called before blocking on a lock of class ``cls``: checks the order, adds edges."""
    if not enabled:
        return
    if trylock:
        return
    held = _held()
    if held:
        _check_acquire(held, cls, read, subclass)


def _check_acquire(held: list[HeldLock], cls: LockClass, read: bool, subclass: int) -> None:
    key: Key = (cls.name, subclass)
    recursive_read = read and cls.kind in RECURSIVE_READ_KINDS
    for h in reversed(held):
        if h.key == key:
            if not (recursive_read and h.read):
                desc = describe(cls, subclass, read, caller_site())
                _emit(recursive_report(desc, held, h), ("recursive", key, caller_site()))
            return

    def chain() -> Chain:
        return capture_chain(held, describe(cls, subclass, read))

    for h in held:
        cycle = _graph.add(h.key, key, chain)
        if cycle is not None:
            intro = acquire_intro(describe(cls, subclass, read, caller_site()), held)
            _emit(cycle_report(intro, cycle, chain()), ("cycle", h.key, key))


def lock_acquired(cls: LockClass, *, read: bool = False, spin: bool = False,
                  subclass: int = 0, trylock: bool = False, lock: object | None = None) -> None:
    """Called once the lock is held: pushes it on this thread's held stack."""
    if not enabled:
        return
    _held().append(HeldLock(cls, subclass, read, spin, trylock, lock, caller_site()))


def lock_release(cls: LockClass, *, lock: object | None = None) -> None:
    """Called when a lock is released (by its holder: the primitive has checked that)."""
    if not enabled:
        return
    held = _held()
    for i in range(len(held) - 1, -1, -1):
        h = held[i]
        if (h.lock is lock) if lock is not None else (h.cls is cls):
            del held[i]
            return
    # Not tracked: taken before lockdep was enabled or reset.  Nothing to undo.


def lock_downgrade(cls: LockClass, *, lock: object | None = None) -> None:
    """A held write lock became a read lock (``downgrade_write``)."""
    if not enabled:
        return
    for h in reversed(_held()):
        if (h.lock is lock) if lock is not None else (h.cls is cls):
            h.read = True
            return


def bad_unlock(cls: LockClass, *, lock: object | None = None,
               why: str = "this thread does not hold it") -> None:
    """A primitive caught a release by a non-holder (it raises SimBug right after)."""
    if not enabled:
        return
    held = _held()
    _emit(bad_unlock_report(describe(cls, site=caller_site()), held, why),
          ("bad-unlock", cls.name, caller_site()))


def might_sleep(what: str) -> None:
    """Called before any operation that may sleep (waits, mutexes, rwsems, fences)."""
    if not enabled:
        return
    held = _held()
    if held and any(h.spin for h in held):
        spins = tuple(h.key for h in held if h.spin)
        _emit(sleep_report(what, held), ("sleep", what, spins, caller_site()))


# -- control -------------------------------------------------------------------------------
def enable(*, echo: bool = False, fatal: bool = False) -> None:
    """Start validating; held stacks start empty (earlier acquisitions are not tracked)."""
    global enabled, _generation, _echo, _fatal
    _echo, _fatal = echo, fatal
    _generation += 1
    enabled = True


def disable() -> None:
    """Stop validating; the graph and the reports are kept."""
    global enabled
    enabled = False


def reset() -> None:
    """Forget the reports, the dependency graph (primed order included) and held stacks."""
    global _generation
    _graph.clear()
    clear_reports()
    _generation += 1


def reports() -> list[LockdepReport]:
    """Every report not yet cleared or claimed by :func:`expect_reports`, oldest first."""
    with _reports_lock:
        return list(_reports)


def clear_reports() -> None:
    """Drop the reports; non-cycle problems are reported again if they recur."""
    with _reports_lock:
        _reports.clear()
        _seen.clear()


def dependencies() -> list[tuple[Key, Key]]:
    """Every recorded edge ``((class, subclass), (class, subclass))``, first seen first."""
    return _graph.edges()


def prime(order: Sequence[str]) -> None:
    """Declare a lock order up front: ``prime(["a", "b", "c"])`` records a -> b -> c.

    Like the kernel priming its lock classes at boot, a later acquisition in the reverse
    order is reported even if the forward order never ran.  Recorded even while disabled.
    """
    stack = capture_stack()
    for a, b in pairwise(order):
        def chain(a: str = a, b: str = b) -> Chain:
            return Chain("lockdep.prime", (f"{a} (declared)",), f"{b} (declared)", stack)

        cycle = _graph.add((a, 0), (b, 0), chain)
        if cycle is not None:
            intro = [f"lockdep.prime declares {a} -> {b}, at:", *(f"  {s}" for s in stack)]
            _emit(cycle_report(intro, cycle, chain()), ("cycle", (a, 0), (b, 0)))


# -- queries and assertions ----------------------------------------------------------------
def held_locks() -> list[LockClass]:
    """The classes of the locks this thread holds, outermost first ([] when disabled)."""
    if not enabled:
        return []
    return [h.cls for h in _held()]


def is_held(lock: _Lock | LockClass) -> bool:
    """Whether lockdep saw this thread take ``lock`` (an instance, or any lock of a class)."""
    if isinstance(lock, LockClass):
        return any(h.cls is lock for h in _held())
    return any(h.lock is lock for h in _held())


def _holds(lock: _Lock | LockClass) -> bool:
    if is_held(lock):
        return True
    mine = getattr(lock, "held_by_me", None)      # the primitive's own, authoritative answer
    return bool(mine is not None and mine())


def assert_held(lock: _Lock | LockClass) -> None:
    """``lockdep_assert_held``: raise SimBug unless this thread holds ``lock``."""
    if not enabled:
        return
    if not _holds(lock):
        name = lock.name if isinstance(lock, LockClass) else lock.lock_class.name
        raise SimBug(f"lockdep: {name} is not held by {_task.task_name()}")


def assert_not_held(*locks: _Lock | LockClass) -> None:
    """``lockdep_assert_not_held``: raise SimBug if this thread holds any of ``locks``."""
    if not enabled:
        return
    for lock in locks:
        if _holds(lock):
            name = lock.name if isinstance(lock, LockClass) else lock.lock_class.name
            raise SimBug(f"lockdep: {name} is held by {_task.task_name()}")


@contextmanager
def expect_reports(*kinds: str) -> Iterator[list[LockdepReport]]:
    """For tests that provoke a report on purpose.

    Claims the reports of ``kinds`` (any kind if none given) made inside the block, by any
    thread, and yields the list they are put in once the block ends.  Raises AssertionError
    if some expected kind did not occur.  Reports of other kinds stay in :func:`reports`.
    """
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown lockdep report kind(s) {bad}; known: {KINDS}")
    with _reports_lock:
        before = list(_reports)
    caught: list[LockdepReport] = []
    try:
        yield caught
    finally:
        _claim(before, kinds, caught)
    got = {r.kind for r in caught}
    missing = [k for k in kinds if k not in got] if kinds else ([] if caught else ["any"])
    if missing:
        raise AssertionError(f"expected lockdep report(s) {missing}, got {sorted(got) or 'none'}")


def _claim(before: list[LockdepReport], kinds: tuple[str, ...],
           caught: list[LockdepReport]) -> None:
    old = {id(r) for r in before}
    with _reports_lock:
        keep: list[LockdepReport] = []
        for r in _reports:
            if id(r) not in old and (not kinds or r.kind in kinds):
                caught.append(r)
            else:
                keep.append(r)
        _reports[:] = keep
