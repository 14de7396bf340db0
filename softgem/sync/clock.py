"""The one clock the core reads: monotonic seconds, virtual while an exploration runs.

Core code (mm up to uapi) never calls ``time`` itself; it asks :func:`monotonic` (or
:func:`monotonic_ns`).  Normally that is ``time.monotonic``; the explorer installs a virtual
clock with :func:`set_source` that advances only when every task is blocked, so timeouts,
hang checks and deadlines behave the same in every replay of a schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["monotonic", "monotonic_ns", "set_source"]

_source: Callable[[], float] = time.monotonic


def monotonic() -> float:
    """Seconds on the current clock (real monotonic, or the explorer's virtual clock)."""
    return _source()


def monotonic_ns() -> int:
    """The same clock in integer nanoseconds."""
    src = _source
    if src is time.monotonic:
        return time.monotonic_ns()
    return int(src() * 1e9)


def set_source(source: Callable[[], float] | None) -> None:
    """Install a clock (``None``: back to ``time.monotonic``)."""
    global _source
    _source = time.monotonic if source is None else source
