"""PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
ASPLOS'10).

Each task gets a random distinct priority (>= d) when first seen; the highest-priority
runnable task always runs.  d - 1 change points are drawn uniformly among the first k steps;
at the i-th, the running task's priority drops to d - i, below every initial one.  For a bug
of depth d (d ordering constraints) among n tasks and k steps, one schedule finds it with
probability at least 1 / (n * k^(d-1)); :func:`bound` computes it so that every campaign can
print what it guarantees.  ``k`` is estimated from the previous schedules' step counts and is
part of the replay token, so a replay draws the same change points.
"""

from __future__ import annotations

import random as _random

__all__ = ["PctStrategy", "bound"]


def bound(n: int, k: int, d: int) -> float:
    """PCT's per-schedule lower bound on finding a depth-``d`` bug."""
    return 1.0 / float(max(n, 1) * max(k, 1) ** max(d - 1, 0))


class PctStrategy:
    name = "pct"

    def __init__(self, seeds: list[int], depth: int = 3, k: int = 1000,
                 fixed_k: bool = False) -> None:
        if depth < 1:
            raise ValueError("PCT depth must be >= 1")
        self.depth = depth
        self.k = k
        self._fixed_k = fixed_k
        self._seeds = list(reversed(seeds))
        self.seed = -1
        self._rng = _random.Random(0)
        self._prio: dict[int, float] = {}
        self._changes: list[int] = []
        self._last: int | None = None
        self.max_tasks = 0

    def observe_steps(self, steps: int, tasks: int) -> None:
        """Learn k and n from a finished schedule (campaigns call this; replays do not)."""
        if not self._fixed_k:
            self.k = max(self.k, steps)
        self.max_tasks = max(self.max_tasks, tasks)

    def add_seeds(self, seeds: list[int]) -> bool:
        """More schedules to run after the current ones (False: none were given)."""
        self._seeds[:0] = list(reversed(seeds))
        return bool(seeds)

    def new_execution(self) -> bool:
        if not self._seeds:
            return False
        self.seed = self._seeds.pop()
        self._rng = _random.Random(self.seed)
        self._prio = {}
        self._last = None
        picks = self._rng.sample(range(1, self.k + 1), min(self.depth - 1, self.k))
        self._changes = sorted(picks)
        return True

    def _priority(self, task: int) -> float:
        p = self._prio.get(task)
        if p is None:
            p = self._prio[task] = self.depth + self._rng.random()
        return p

    def next_task(self, runnable: list[int], current: int | None, step: int) -> int:
        changes = self._changes
        while changes and step >= changes[0]:
            changes.pop(0)
            victim = current if current is not None else self._last
            if victim is not None:
                self._prio[victim] = float(self.depth - 1 - len(changes))
        best = max(runnable, key=self._priority)
        self._last = best
        return best

    def random_number(self) -> int:
        return self._rng.getrandbits(32)

    def token(self) -> str:
        return f"pct:d{self.depth}:k{self.k}:s{self.seed}"
