"""The reservation object (``dma_resv``): the fences of the GPU work using an object.

Fences are recorded with a usage, as the kernel does since 5.19: WRITE fences are what a reader
must wait for; READ fences what a writer must also wait for; BOOKKEEP fences are waited for
only by those who need the object fully idle (eviction, unbind).
"""

from __future__ import annotations

import enum
from typing import Protocol

from ..sync import SpinLock, clock

__all__ = ["Usage", "FenceLike", "Reservation"]


class Usage(enum.IntEnum):
    KERNEL = 0
    WRITE = 1
    READ = 2
    BOOKKEEP = 3


class FenceLike(Protocol):
    def signaled(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Reservation:
    """The fences of one object, with their usages."""

    __slots__ = ("_fences", "_lock")

    def __init__(self) -> None:
        self._fences: list[tuple[FenceLike, Usage]] = []
        self._lock = SpinLock("gem.resv_fences")

    def add_fence(self, fence: FenceLike, usage: Usage) -> None:
        with self._lock:
            self._fences = [(f, u) for f, u in self._fences if not f.signaled()]
            self._fences.append((fence, usage))

    def remove_fence(self, fence: FenceLike) -> None:
        """Forget ``fence`` (``dma_resv_replace_fences`` with a signalled stub)."""
        with self._lock:
            self._fences = [(f, u) for f, u in self._fences if f is not fence]

    def fences(self, usage: Usage) -> list[FenceLike]:
        """The unsignalled fences at ``usage`` or stricter (lower value)."""
        with self._lock:
            return [f for f, u in self._fences if u <= usage and not f.signaled()]

    def test_signaled(self, usage: Usage) -> bool:
        return not self.fences(usage)

    def wait(self, usage: Usage, timeout: float | None = None) -> bool:
        """Wait for every fence at ``usage`` or stricter; False when ``timeout`` ran out."""
        deadline = None if timeout is None else clock.monotonic() + timeout
        for fence in self.fences(usage):
            left = None if deadline is None else max(0.0, deadline - clock.monotonic())
            if not fence.wait(left):
                return False
        return True

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for f, _ in self._fences if not f.signaled())
