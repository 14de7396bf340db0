"""Seeded random walk: at every choice, a uniformly random runnable task."""

from __future__ import annotations

import random as _random

__all__ = ["RandomStrategy", "execution_seed"]


def execution_seed(seed: int, index: int) -> int:
    """The seed of schedule ``index`` of a campaign seeded ``seed`` (disjoint per index)."""
    return (seed << 24) + index


class RandomStrategy:
    name = "random"

    def __init__(self, seeds: list[int]) -> None:
        self._seeds = list(reversed(seeds))
        self.seed = -1
        self._rng = _random.Random(0)

    def add_seeds(self, seeds: list[int]) -> bool:
        """More schedules to run after the current ones (False: none were given)."""
        self._seeds[:0] = list(reversed(seeds))
        return bool(seeds)

    def new_execution(self) -> bool:
        if not self._seeds:
            return False
        self.seed = self._seeds.pop()
        self._rng = _random.Random(self.seed)
        return True

    def next_task(self, runnable: list[int], current: int | None, step: int) -> int:
        return runnable[self._rng.randrange(len(runnable))]

    def random_number(self) -> int:
        return self._rng.getrandbits(32)

    def token(self) -> str:
        return f"random:s{self.seed}"
