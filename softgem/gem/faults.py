"""Fault injection points: deterministic ways to make a rare path happen in a test.

A point is armed for a number of hits (``arm("userptr.dma_map", 1)``) or given a hook that
runs when the code passes it (``set_hook("execbuf.before_submit_done", fn)``), e.g. a munmap
that forces the EAGAIN collision between submit_init and submit_done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..sync import SpinLock

__all__ = ["FaultPoints"]


class FaultPoints:
    __slots__ = ("_armed", "_hooks", "_lock")

    def __init__(self) -> None:
        self._armed: dict[str, int] = {}
        self._hooks: dict[str, Callable[..., Any]] = {}
        self._lock = SpinLock("gem.fault_points")

    def arm(self, name: str, times: int = 1) -> None:
        with self._lock:
            self._armed[name] = self._armed.get(name, 0) + times

    def hit(self, name: str) -> bool:
        """True (and one fewer armed hit) when ``name`` is armed."""
        if not self._armed:
            return False
        with self._lock:
            left = self._armed.get(name, 0)
            if not left:
                return False
            if left == 1:
                del self._armed[name]
            else:
                self._armed[name] = left - 1
            return True

    def set_hook(self, name: str, fn: Callable[..., Any] | None) -> None:
        with self._lock:
            if fn is None:
                self._hooks.pop(name, None)
            else:
                self._hooks[name] = fn

    def run(self, name: str, *args: Any) -> None:
        """Run the hook at ``name`` if one is set (outside any lock of ours)."""
        if not self._hooks:
            return
        with self._lock:
            fn = self._hooks.get(name)
        if fn is not None:
            fn(*args)
