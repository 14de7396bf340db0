"""Bounded-preemption DFS (CHESS iterative context bounding, Musuvathi and Qadeer, PLDI'07).

Enumerates, depth first, every schedule with at most ``K`` preemptions (a switch away from a
task that could have continued); switches at blocking points are free.  Within the bound the
enumeration is complete: every such schedule of the (deterministic) scenario runs exactly
once, and ``count`` says how many there were.  The CHESS authors found every bug of their
study within two preemptions.

State: one level per real choice of the current path, ``(options, index, preemptions
before)``.  After an execution the deepest level that still has an untried option advances;
levels below it are dropped and rebuilt by the next execution.  ``split=(j, J)`` keeps only
the options ``i % J == j`` at the first branching level: J workers then explore disjoint
subtrees whose union is the whole tree.
"""

from __future__ import annotations

from .tokens import encode_choices

__all__ = ["DfsStrategy"]


class _Level:
    __slots__ = ("before", "has_current", "index", "options")

    def __init__(self, options: list[int], before: int, has_current: bool, index: int) -> None:
        self.options = options
        self.before = before            # preemptions on the path before this choice
        self.has_current = has_current  # options[0] is the running task (others preempt it)
        self.index = index

    def after(self) -> int:
        return self.before + (1 if self.has_current and self.index > 0 else 0)


class DfsStrategy:
    name = "dfs"

    def __init__(self, preemptions: int = 2, split: tuple[int, int] = (0, 1),
                 limit: int | None = None) -> None:
        self.bound = preemptions
        self.split = split
        self.limit = limit
        self.count = 0
        self.exhausted = False
        self._levels: list[_Level] = []
        self._depth = 0
        self._started = False
        self._empty = False
        self._path_deviations: list[tuple[int, int]] = []

    def new_execution(self) -> bool:
        if self._empty or (self._started and not self._advance()):
            if self._empty:
                self.count -= 1     # that one run duplicated worker 0's first path
            self.exhausted = True
            return False
        if self.limit is not None and self.count >= self.limit:
            return False
        self._started = True
        self._depth = 0
        self._path_deviations = []
        self.count += 1
        return True

    def _advance(self) -> bool:
        first = self._first_branch()
        while self._levels:
            i = len(self._levels) - 1
            level = self._levels[i]
            step = self.split[1] if i == first else 1
            if level.index + step < len(level.options):
                level.index += step
                return True
            self._levels.pop()
        return False

    def _first_branch(self) -> int:
        for i, level in enumerate(self._levels):
            if len(level.options) > 1:
                return i
        return -1

    def next_task(self, runnable: list[int], current: int | None, step: int) -> int:
        d = self._depth
        self._depth = d + 1
        if d < len(self._levels):
            level = self._levels[d]
        else:
            used = self._levels[-1].after() if self._levels else 0
            if current is not None:
                options = [current]
                if used < self.bound:
                    options += [t for t in runnable if t != current]
            else:
                options = list(runnable)
            index = 0
            if len(options) > 1 and self._first_branch() < 0 and self.split[1] > 1:
                index = self.split[0]
                if index >= len(options):       # this worker's share of the tree is empty
                    index = 0
                    self._empty = True
            level = _Level(options, used, current is not None, index)
            self._levels.append(level)
        chosen = level.options[level.index]
        default = runnable[0] if current is None else current
        if chosen != default:
            self._path_deviations.append((d, chosen))
        return chosen

    def random_number(self) -> int:
        return 0

    def token(self) -> str:
        return f"dfs:k{self.bound}:{encode_choices(self._path_deviations)}"
