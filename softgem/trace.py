"""A tiny event bus for narration and ``--trace``: layers emit, the top layer listens.

Call sites guard with ``if trace.enabled:`` so tracing costs one attribute load when off.
Listeners run synchronously in the emitting thread and must not take core locks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "enabled", "emit", "subscribe"]

enabled = False


@dataclass(frozen=True, slots=True)
class Event:
    category: str          # "mm", "notifier", "gem", "userptr", "gpu", "ioctl", "host"
    name: str              # e.g. "invalidate_range_start"
    fields: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        body = " ".join(f"{k}={_fmt(v)}" for k, v in self.fields.items())
        return f"[{self.category}] {self.name} {body}".rstrip()


def _fmt(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool) and v > 0xFFFF:
        return f"{v:#x}"
    return str(v)


_listeners: list[Callable[[Event], None]] = []
_lock = threading.Lock()


def emit(category: str, name: str, /, **fields: Any) -> None:
    if not enabled:
        return
    ev = Event(category, name, fields)
    for fn in list(_listeners):
        fn(ev)


def subscribe(fn: Callable[[Event], None]) -> Callable[[], None]:
    """Start delivering events to ``fn``; returns the function that stops it."""
    global enabled
    with _lock:
        _listeners.append(fn)
        enabled = True

    def unsubscribe() -> None:
        global enabled
        with _lock:
            if fn in _listeners:
                _listeners.remove(fn)
            enabled = bool(_listeners)

    return unsubscribe
