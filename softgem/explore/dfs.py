"""Bounded-preemption DFS (CHESS iterative context bounding, Musuvathi and Qadeer, PLDI'07).

Enumerates, depth first, every schedule with at most ``K`` preemptions (a switch away from a
task that could have continued); switches at blocking points are free.  Within the bound the
enumeration is complete: every such schedule of the (deterministic) scenario runs exactly
once, and ``count`` says how many there were.  The CHESS authors found every bug of their
study within two preemptions.

State: one level per real choice of the current path, ``(options, index, preemptions
before)``.  After an execution the deepest level that still has an untried option advances;
levels below it are dropped and rebuilt by the next execution.  ``split=(j, J)`` deals the
tree out by *first deviation*: every schedule but the default one first leaves the default
path at some choice ``d`` with option ``i``, and worker ``j`` explores the subtrees with
a pseudo-random hash of ``(d, i)`` equal to ``j`` modulo J (each worker runs the default path to find the choices; worker 0 counts
it).  The subtrees are disjoint and together the whole tree; dealing them out by a hash (not
by the parity of ``d``, which follows the lock/unlock rhythm of the points) gives each worker deep and shallow ones alike (splitting at the first branching instead
gave one worker 97% of process-exit-busy's tree).

Reduction (``reduce=True``, the default): a preemption is only tried before an operation on
a *shared* object -- one whose label (kind and lock class, e.g. ``Mutex gem.object``) some
execution so far has seen touched by two tasks; explicit points (no object) always count.
Moving a switch from before a task's operation on an object nobody else touches to before
its next shared operation reorders no two conflicting operations, so no state is lost --
provided shared data is only touched through ``softgem.sync`` operations or explicit
``explore.point``s, which is the core's rule.  Labels merge all objects of a lock class, so
the test over-approximates sharing.  When an execution reveals a newly shared label, the
enumeration restarts from scratch with the larger set (``restarts`` counts them), so the
final, complete pass used the final set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
                 limit: int | None = None, reduce: bool = True,
                 shared: frozenset[str] = frozenset(),
                 claim: Callable[[int], bool] | None = None) -> None:
        self.bound = preemptions
        self._claim = claim if not reduce else None    # restarts renumber the subtrees
        self._roots = 0
        self.reduce = reduce
        self.shared: set[str] = set(shared)
        self._touched: dict[str, set[int]] = {}
        self._restart = False
        self.restarts = 0
        self._ex: Any = None
        self.split = split
        self.limit = limit
        self.count = 0
        self.exhausted = False
        self._levels: list[_Level] = []
        self._depth = 0
        self._started = False
        self._path_deviations: list[tuple[int, int]] = []

    def attach(self, ex: Any) -> None:
        """The execution about to run (its trace tells which object a choice is before)."""
        self._ex = ex

    def finish(self, ex: Any) -> None:
        """Learn which labels two tasks touched; a new one restarts the enumeration."""
        if not self.reduce:
            return
        labels = ex.labels
        grew = False
        for tid, _, n in ex.trace:
            if n < 0:
                continue
            label = labels[n]
            tids = self._touched.setdefault(label, set())
            if tid not in tids:
                tids.add(tid)
                if len(tids) == 2 and label not in self.shared:
                    self.shared.add(label)
                    grew = True
        if grew:
            self._restart = True

    def _local(self) -> bool:
        """Whether the running task's pending operation touches an unshared object."""
        ex = self._ex
        if not self.reduce or ex is None or not ex.trace:
            return False
        n = ex.trace[-1][2]
        return n >= 0 and ex.labels[n] not in self.shared

    def new_execution(self) -> bool:
        if self._restart:
            self._restart = False
            self.restarts += 1
            self._levels, self._started, self.count = [], False, 0
        if self._started and not self._advance():
            if self.split[0] != 0:
                self.count -= 1     # its first run, the default path, is worker 0's too
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
        levels = self._levels
        first = next((i for i, lv in enumerate(levels) if lv.index > 0), len(levels))
        while levels:
            i = len(levels) - 1
            level = levels[i]
            nxt = level.index + 1
            if i <= first:      # an alternative here is a first deviation: a subtree's root
                while nxt < len(level.options) and not self.owns(i, nxt):
                    nxt += 1
            if nxt < len(level.options):
                level.index = nxt
                return True
            levels.pop()
            first = min(first, len(levels))
        return False

    def first_index(self, options: list[int], has_current: bool, used: int) -> int:
        """The option a new level starts with (the default rule's; an estimator draws it)."""
        return 0

    def owns(self, level: int, index: int) -> bool:
        """Whether this worker explores the subtree whose first deviation from the default
        path is option ``index`` at choice ``level``: claimed from the other workers as the
        search reaches it (``claim``, local processes), else dealt out by a hash (Ray)."""
        j, jobs = self.split
        if self._claim is not None:
            root = self._roots      # every worker meets the roots in the same order
            self._roots += 1
            return self._claim(root)
        mixed = ((level * 0x9E3779B1 + index * 0x85EBCA77) & 0xFFFFFFFF) >> 16
        return jobs == 1 or mixed % jobs == j

    def options(self, runnable: list[int], current: int | None, used: int) -> list[int]:
        """What a new level tries: the running task first, then (within the bound, and
        unless its next operation is on an unshared object) every other runnable one."""
        if current is None:
            return list(runnable)
        if used < self.bound and not self._local():
            return [current] + [t for t in runnable if t != current]
        return [current]

    def chose(self, level: _Level, current: int | None) -> None:
        """Told of each choice as it is made (a reducing search keeps its sets here)."""

    def next_task(self, runnable: list[int], current: int | None, step: int) -> int:
        d = self._depth
        self._depth = d + 1
        if d < len(self._levels):
            level = self._levels[d]
        else:
            used = self._levels[-1].after() if self._levels else 0
            options = self.options(runnable, current, used)
            level = _Level(options, used, current is not None,
                           self.first_index(options, current is not None, used))
            self._levels.append(level)
        chosen = level.options[level.index]
        self.chose(level, current)
        default = runnable[0] if current is None else current
        if chosen != default:
            self._path_deviations.append((d, chosen))
        return chosen

    def random_number(self) -> int:
        return 0

    def token(self) -> str:
        return f"dfs:k{self.bound}:{encode_choices(self._path_deviations)}"
