"""Held locks and dependency chains: what lockdep remembers about one acquisition.

A :class:`HeldLock` sits on a thread's held-lock stack from ``lock_acquired`` to
``lock_release``; it is created on every tracked acquisition, so it is a slotted record that
captures only one frame (the first caller outside :mod:`softgem.sync`), stored raw and
formatted only when a report needs it.

A :class:`Chain` is the evidence kept for one dependency edge ("held A while taking B"): the
thread, its held locks, the lock being taken and a short stack.  It is captured only when an
edge is new, which happens a bounded number of times per run, so it may cost a frame walk.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from types import FrameType

from . import task as _task
from .lockclass import LockClass

__all__ = ["Chain", "HeldLock", "Key", "Site", "capture_chain", "caller_site", "describe"]

#: A node of the dependency graph: (lock class name, subclass).
Key = tuple[str, int]
#: A call site, kept raw: (file name, line number, function name).
Site = tuple[str, int, str]

# Lock kinds whose read side may recurse in one thread: an RwLock reader that already holds
# the lock does not queue behind a waiting writer.  RwSem readers do queue, so not here.
RECURSIVE_READ_KINDS = frozenset({"rwlock"})

_SYNC_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_THREADING = threading.__file__
_ROOT_DIR = os.path.dirname(os.path.dirname(_SYNC_DIR.rstrip(os.sep))) + os.sep
_STACK_DEPTH = 6


class HeldLock:
    """One entry of a thread's held-lock stack (kernel ``struct held_lock``)."""

    __slots__ = ("cls", "lock", "read", "site", "spin", "subclass", "trylock")

    def __init__(self, cls: LockClass, subclass: int, read: bool, spin: bool, trylock: bool,
                 lock: object | None, site: Site | None) -> None:
        self.cls = cls
        self.subclass = subclass
        self.read = read
        self.spin = spin
        self.trylock = trylock
        self.lock = lock
        self.site = site

    @property
    def key(self) -> Key:
        return (self.cls.name, self.subclass)

    def __repr__(self) -> str:
        return f"HeldLock({describe(self.cls, self.subclass, self.read, self.site)})"


@dataclass(frozen=True, slots=True)
class Chain:
    """The first observation of one dependency edge, kept to explain a later report."""

    thread: str
    held: tuple[str, ...]       # the thread's held locks, outermost first
    acquiring: str              # the lock being taken
    stack: tuple[str, ...]      # innermost frame first, softgem.sync frames left out

    def lines(self, indent: str = "    ") -> list[str]:
        out = [f"{indent}in thread {self.thread!r}, holding:"]
        out += [f"{indent}  {h}" for h in self.held] or [f"{indent}  (nothing)"]
        out.append(f"{indent}while acquiring:")
        out.append(f"{indent}  {self.acquiring}")
        if self.stack:
            out.append(f"{indent}stack (innermost first):")
            out += [f"{indent}  {s}" for s in self.stack]
        return out


def caller_site(skip: int = 1) -> Site | None:
    """The first frame outside softgem.sync above the caller: where a lock was taken."""
    frame: FrameType | None = sys._getframe(skip + 1)
    while frame is not None and frame.f_code.co_filename.startswith(_SYNC_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def format_site(site: Site | None) -> str:
    if site is None:
        return "?"
    path, line, func = site
    path = path[len(_ROOT_DIR):] if path.startswith(_ROOT_DIR) else os.path.basename(path)
    return f"{path}:{line} in {func}"


def describe(cls: LockClass, subclass: int = 0, read: bool = False,
             site: Site | None = None) -> str:
    """``gem.object (mutex) [read] /1 at gem/object.py:40 in pin`` -- one lock, one line."""
    text = str(cls)
    if read:
        text += " [read]"
    if subclass:
        text += f" /{subclass}"
    if site is not None:
        text += f" at {format_site(site)}"
    return text


def describe_held(h: HeldLock) -> str:
    return describe(h.cls, h.subclass, h.read, h.site) + (" [trylock]" if h.trylock else "")


def capture_stack(skip: int = 1, depth: int = _STACK_DEPTH) -> tuple[str, ...]:
    frame: FrameType | None = sys._getframe(skip + 1)
    out: list[str] = []
    while frame is not None and len(out) < depth:
        name = frame.f_code.co_filename
        if not name.startswith(_SYNC_DIR) and name != _THREADING:
            out.append(format_site((frame.f_code.co_filename, frame.f_lineno,
                                    frame.f_code.co_name)))
        frame = frame.f_back
    return tuple(out)


def capture_chain(held: list[HeldLock], acquiring: str) -> Chain:
    """Evidence for a new edge, taken in the acquiring thread (cheap: no source lines read)."""
    return Chain(
        thread=_task.task_name(),
        held=tuple(describe_held(h) for h in held),
        acquiring=acquiring,
        stack=capture_stack(skip=2),
    )
