"""Lockdep reports: what went wrong, written for the person who has to fix it.

Each report is a frozen record with a ``kind`` and a multi-line ``message`` shaped like the
kernel's splats: the offending acquisition, the locks held, the evidence (both chains for a
cycle) and, for a cycle, the interleaving that would deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from . import task as _task
from .lockdep_graph import Cycle
from .lockdep_held import Chain, HeldLock, Key, describe_held

__all__ = ["KINDS", "LockdepReport"]

#: Every report kind, in the order the checks run.
KINDS = ("cycle", "recursive", "sleep-in-atomic", "bad-unlock")


@dataclass(frozen=True, slots=True)
class LockdepReport:
    """One problem lockdep found.  ``locks`` names the lock classes involved."""

    kind: str
    message: str
    locks: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


def _key(k: Key) -> str:
    return k[0] if not k[1] else f"{k[0]}/{k[1]}"


def _held_lines(held: list[HeldLock]) -> list[str]:
    return [f"  {describe_held(h)}" for h in held] or ["  (nothing)"]


def _header(title: str) -> list[str]:
    return ["=" * 72, f"lockdep: {title}", "=" * 72]


def cycle_report(intro: list[str], cycle: Cycle, new_chain: Chain) -> LockdepReport:
    """Adding ``cycle.prev -> cycle.next`` would invert the recorded order ``cycle.path``."""
    order = " -> ".join(_key(k) for k in cycle.path)
    lines = _header("possible circular locking dependency detected")
    lines += [*intro,
              f"the recorded order is {order}, so {_key(cycle.next)} must not be taken",
              f"while {_key(cycle.prev)} is held.", "",
              "the existing dependency chain:"]
    for n, ((a, b), chain) in enumerate(zip(pairwise(cycle.path), cycle.path_chains,
                                            strict=True)):
        lines.append(f"-> #{n} {_key(a)} -> {_key(b)}, first seen:")
        lines += chain.lines()
    lines += ["", f"the new dependency {_key(cycle.prev)} -> {_key(cycle.next)}:"]
    lines += new_chain.lines()
    lines += ["", *_scenario(cycle)]
    names = tuple(dict.fromkeys(k[0] for k in cycle.path))
    return LockdepReport("cycle", "\n".join(lines), names)


def acquire_intro(new_desc: str, held: list[HeldLock]) -> list[str]:
    me = _task.task_name()
    return [f"thread {me!r} is trying to acquire:", f"  {new_desc}",
            "but already holds:", *_held_lines(held)]


def _scenario(cycle: Cycle) -> list[str]:
    """The deadlock the cycle allows: thread k holds lock k and waits for lock k+1."""
    ring = list(cycle.path)
    n = len(ring)
    lines = ["possible unsafe locking scenario:"]
    for k in range(n):
        lines.append(f"  thread {k}: lock({_key(ring[k])})")
    for k in range(n):
        waits = "deadlock" if k == n - 1 else f"waits for thread {(k + 1) % n}"
        lines.append(f"  thread {k}: lock({_key(ring[(k + 1) % n])})   <- {waits}")
    return lines


def recursive_report(new_desc: str, held: list[HeldLock], prev: HeldLock) -> LockdepReport:
    me = _task.task_name()
    lines = _header("possible recursive locking detected")
    lines += [f"thread {me!r} is trying to acquire:", f"  {new_desc}",
              "but already holds a lock of the same class (and subclass):",
              f"  {describe_held(prev)}", "all held locks:", *_held_lines(held), "",
              "if these are different locks taken in a fixed order, give the inner one a",
              "subclass (lock(subclass=1), down_write(subclass=1)); a reader taking an",
              "RwSem again can deadlock against a writer queued in between."]
    return LockdepReport("recursive", "\n".join(lines), (prev.cls.name,))


def sleep_report(what: str, held: list[HeldLock]) -> LockdepReport:
    me = _task.task_name()
    spins = [h for h in held if h.spin]
    lines = _header("sleeping function called from atomic context")
    lines += [f"thread {me!r} may sleep in: {what}",
              "while holding spinning lock(s):", *_held_lines(spins),
              "all held locks:", *_held_lines(held)]
    return LockdepReport("sleep-in-atomic", "\n".join(lines),
                         tuple(dict.fromkeys(h.cls.name for h in spins)))


def bad_unlock_report(desc: str, held: list[HeldLock], why: str) -> LockdepReport:
    me = _task.task_name()
    lines = _header("bad unlock balance detected")
    lines += [f"thread {me!r} is trying to release:", f"  {desc}",
              f"but {why}.", "locks held by this thread:", *_held_lines(held)]
    return LockdepReport("bad-unlock", "\n".join(lines), (desc.split(" ", 1)[0],))
