"""Replay of a recorded choice list (its deviations from the default rule, see tokens)."""

from __future__ import annotations

from .tokens import encode_choices

__all__ = ["ReplayStrategy"]


class ReplayStrategy:
    name = "replay"

    def __init__(self, deviations: list[tuple[int, int]]) -> None:
        self.deviations = list(deviations)
        self._at: dict[int, int] = dict(deviations)
        self._n = 0
        self._runs = 0

    def new_execution(self) -> bool:
        self._runs += 1
        self._n = 0
        return self._runs == 1

    def next_task(self, runnable: list[int], current: int | None, step: int) -> int:
        n = self._n
        self._n = n + 1
        want = self._at.get(n)
        if want is not None and want in runnable:
            return want
        return runnable[0] if current is None else current

    def random_number(self) -> int:
        return 0

    def token(self) -> str:
        return f"replay:{encode_choices(self.deviations)}"
