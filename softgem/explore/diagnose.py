"""Explaining a blocked schedule: who holds what, wait-for cycles, failure kinds."""

from __future__ import annotations

from ..errors import SimBug
from .model import Task

__all__ = ["classify", "cycle", "holder", "holder_ids", "label"]


def label(obj: object) -> str:
    cls = getattr(obj, "lock_class", None)
    if cls is not None:
        return f"{type(obj).__name__} {cls.name}"
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return f"{type(obj).__name__} {name}"
    return type(obj).__name__


def holder(obj: object, tasks: list[Task]) -> str:
    """Who holds ``obj`` (a Mutex's or RwSem's owner), by task name; '' when unknown."""
    ids = holder_ids(obj)
    return ", ".join(tasks[i].name for i in ids if 0 <= i < len(tasks))


def holder_ids(obj: object) -> list[int]:
    owner = getattr(obj, "_owner", None)
    if isinstance(owner, int):
        return [owner]
    writer = getattr(obj, "_writer", None)
    if isinstance(writer, int):
        return [writer]
    readers = getattr(obj, "_readers", None)
    if isinstance(readers, dict):
        return sorted(int(k) for k in readers)
    return []


def cycle(left: list[Task], tasks: list[Task]) -> str:
    """"task X waits for L held by Y, which waits for M held by X" when the locks form one."""
    waits = {t.id: t for t in left}
    for start in left:
        path: list[Task] = []
        t: Task | None = start
        while t is not None and t not in path:
            path.append(t)
            holders = [h for h in holder_ids(t.wait_obj) if h in waits]
            t = waits[holders[0]] if holders else None
        if t is not None and t is start:
            parts = []
            for i, a in enumerate(path):
                b = path[(i + 1) % len(path)]
                who = f"task {a.name} waits" if i == 0 else "which waits"
                parts.append(f"{who} for {label(a.wait_obj)} held by {b.name}")
            return ", ".join(parts)
    return ""


def classify(exc: BaseException) -> str:
    if isinstance(exc, SimBug) and "freed" in str(exc):
        return "use-after-free"
    if isinstance(exc, AssertionError):
        return "assertion"
    if isinstance(exc, SimBug):
        return "bug"
    return "exception"
