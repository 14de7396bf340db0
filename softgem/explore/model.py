"""The explorer's plain data: the scheduler protocol, tasks, failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import greenlet

from ..errors import SimBug
from ..sync import task as sync_task

__all__ = ["ExploreFailure", "Failure", "Scheduler", "Task"]


class Scheduler(Protocol):
    """A strategy (Shuttle's three methods): a new execution, the next task, a number."""

    def new_execution(self) -> bool: ...

    def next_task(self, runnable: list[int], current: int | None, step: int) -> int: ...

    def random_number(self) -> int: ...


class ExploreFailure(Exception):
    """Raised by scenario code (``explore.fail``) to report a failure of a given kind."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Failure:
    kind: str                       # deadlock, lockdep, use-after-free, leak, stale-access, ...
    message: str
    task: str = ""
    stacks: dict[str, list[str]] = field(default_factory=dict)


class Task:
    __slots__ = ("daemon", "deadline", "done", "end", "fn", "glet", "id", "local", "name", "ready",
                 "wait_kind", "wait_obj")

    def __init__(self, tid: int, name: str, fn: Callable[[], object], daemon: bool) -> None:
        self.id = tid
        self.name = name
        self.fn = fn
        self.daemon = daemon
        self.glet: greenlet.greenlet | None = None
        self.done = False
        self.end = -1                                    # trace length when it finished
        self.ready: Callable[[], bool] | None = None     # parked: runnable once it holds
        self.deadline: float | None = None               # parked with a (virtual) timeout
        self.wait_kind = ""
        self.wait_obj: object = None
        self.local: dict[str, Any] = {}

    # sync.task.KThread
    def join(self) -> None:
        rt = sync_task.runtime
        if rt is None:
            raise SimBug("join of an explorer task outside its exploration")
        rt.park("kthread.join", self, lambda: self.done)

    def is_alive(self) -> bool:
        return not self.done

    def runnable(self, now: float) -> bool:
        if self.done:
            return False
        ready = self.ready
        if ready is None:
            return True
        return (self.deadline is not None and now >= self.deadline) or ready()
