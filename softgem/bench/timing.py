"""Side-by-side timing: alternate the contenders in short rounds and keep each one's best.

The machine is shared and noisy; interleaving means a burst of noise hits every contender
alike, and the best round of each is its least disturbed one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["best_rates"]


def best_rates(contenders: dict[str, Callable[[], int]], rounds: int) -> dict[str, float]:
    """Run each contender ``rounds`` times in turn; each call returns how many operations it
    did.  Returns the best operations-per-second of each."""
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(rounds):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            ops = fn()
            dt = time.perf_counter() - t0
            if dt > 0:
                best[name] = max(best[name], ops / dt)
    return best
