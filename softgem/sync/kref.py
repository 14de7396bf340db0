"""Kref: a reference count with get-unless-zero, and a release on the last put.

``_count``, changed only under ``_lock``:

=========  ==================================================================================
count      meaning
=========  ==================================================================================
> 0        live: ``get``/``get_unless_zero``/``put`` allowed
0          released (the put that reached 0 ran ``release``, outside the lock, exactly once):
           ``get_unless_zero`` is False, ``get`` and ``put`` are bugs
=========  ==================================================================================

A lookup that races with the last put must use ``get_unless_zero`` under the lock that
protects the lookup structure, as in the kernel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..errors import SimBug
from . import task as _task

__all__ = ["Kref"]


class Kref:
    __slots__ = ("_count", "_lock")

    def __init__(self, initial: int = 1) -> None:
        self._count = initial
        self._lock = threading.Lock()

    def get(self) -> None:
        if _task.runtime is not None:
            _task.runtime.point("kref.get", self)
        with self._lock:
            if self._count <= 0:
                raise SimBug("kref_get on a released object")
            self._count += 1

    def get_unless_zero(self) -> bool:
        if _task.runtime is not None:
            _task.runtime.point("kref.get_unless_zero", self)
        with self._lock:
            if self._count == 0:
                return False
            self._count += 1
            return True

    def put(self, release: Callable[[], None] | None = None) -> bool:
        """Drop a reference; run ``release`` (outside the counter's lock) on the last one."""
        if _task.runtime is not None:
            _task.runtime.point("kref.put", self)
        with self._lock:
            if self._count <= 0:
                raise SimBug("kref_put underflow")
            self._count -= 1
            last = self._count == 0
        if last and release is not None:
            release()
        return last

    def read(self) -> int:
        return self._count
