"""Deadline and Backoff: the two things a thread polling memory needs (``cpu_relax`` + a timer).

The GPU engine runs the IGT spinner pattern: a batch that jumps to itself until the CPU
rewrites its first dword.  The engine must keep re-reading memory, let the CPU thread run,
and give up when the hang timeout passes.  Both the clock and the pause live here, in
``softgem.sync``, so that the core never reads the clock or sleeps by itself and the
explorer (later) can replace them with virtual time and a scheduling point.

``Backoff.pause()`` first yields the interpreter (a zero sleep releases the GIL, like
``cpu_relax`` lets a sibling hyperthread run), then sleeps for exponentially longer slices
capped at ``max_pause``: a spinner that is ended at once costs nothing, one that spins for
seconds costs a few hundred wake-ups per second instead of a whole core.

Rejected alternative: waking the poller when memory changes.  Every CPU store path (faults,
copy_to_user, host writes) would have to know about GPU pollers; real hardware does not
either -- the command streamer simply re-fetches.
"""

from __future__ import annotations

from . import clock, lockdep
from . import task as _task

__all__ = ["Backoff", "Deadline", "now"]


def now() -> float:
    """Seconds on the monotonic clock: the one clock core code may consult (through here)."""
    return clock.monotonic()


class Deadline:
    """A point ``seconds`` from now; ``None`` never expires."""

    __slots__ = ("_end", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else now() + seconds

    def expired(self) -> bool:
        return self._end is not None and now() >= self._end

    def remaining(self) -> float | None:
        """Seconds left (0.0 once expired), or None for a deadline that never expires."""
        if self._end is None:
            return None
        return max(0.0, self._end - now())

    def __repr__(self) -> str:
        return f"<Deadline {self.seconds}s remaining={self.remaining()}>"


class Backoff:
    """Pauses for a polling loop: yield first, then sleep longer and longer (capped)."""

    __slots__ = ("_spins", "max_pause", "min_pause", "yields")

    def __init__(self, *, yields: int = 8, min_pause: float = 20e-6,
                 max_pause: float = 1e-3) -> None:
        self.yields = yields
        self.min_pause = min_pause
        self.max_pause = max_pause
        self._spins = 0

    def pause(self) -> None:
        """One polling step: let other threads run.  May sleep (never under a spinlock)."""
        lockdep.might_sleep("backoff pause")
        n = self._spins
        self._spins = n + 1
        if n < self.yields:
            if _task.runtime is not None:
                # Explored: a yield would let a spinner starve everyone under a priority
                # strategy; a short virtual sleep runs it again once all others block.
                _task.sleep("backoff.pause", self.min_pause)
            else:
                _task.sleep("backoff.pause", 0)
            return
        shift = min(n - self.yields, 16)
        _task.sleep("backoff.pause", min(self.max_pause, self.min_pause * (1 << shift)))

    def reset(self) -> None:
        """Progress was made: the next pause starts short again."""
        self._spins = 0

    @property
    def spins(self) -> int:
        return self._spins
