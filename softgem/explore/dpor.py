"""Preemption-bounded DFS with sleep sets (CHESS's bounded search with partial-order reduction).

The tree is :mod:`dfs`'s (every schedule with at most ``K`` preemptions, depth first), pruned
with Godefroid's sleep sets over the model's own knowledge of which object each step touches.
A *transition* of a task is what it runs between two scheduling points: the operation it was
parked at (its *pending* operation: ``kind`` on an object) and then plain Python code up to its
next point, where it *arrives* at its next pending operation.  Two transitions of different
tasks are independent when neither the operations they perform nor the ones they arrive at
share an object, and none of them is *global*; see :func:`is_global` and docs/explore.md for
the relation and why it is safe.

Sleep sets: at a choice where the running task ``c`` could continue and the search preempts it
for another task (after the subtree where ``c`` continued was explored), ``c`` falls asleep
with its pending operation.  It stays asleep, not a choice, until a transition dependent with
that operation runs; if it must run while asleep (it is the only option, or the only runnable
task), the rest of the path is redundant and the execution is abandoned (``pruned``).  Only the
continuing task is ever put to sleep: a sibling that was itself a preemption could cost the
equivalent schedule one more preemption than the pruned one, which the bound may not allow
(docs/explore.md has the argument; Musuvathi and Qadeer's report on context-bounded POR
makes the same point).  Within that rule, every schedule with at most ``K`` preemptions is
equivalent to an explored one with no more preemptions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dfs import DfsStrategy, _Level
from .tokens import encode_choices

__all__ = ["DporStrategy", "LOCAL_KINDS", "is_global"]

#: Operations whose effect and readiness depend only on their own object's state.
LOCAL_KINDS = frozenset({
    "mutex.lock", "mutex.trylock", "mutex.unlock",
    "rwsem.down_read", "rwsem.down_read_trylock", "rwsem.up_read", "rwsem.down_write",
    "rwsem.down_write_trylock", "rwsem.up_write", "rwsem.downgrade_write",
    "seqcount.write_begin", "seqcount.write_end", "seqcount.read_begin", "seqcount.read_retry",
    "kref.get", "kref.get_unless_zero", "kref.put",
    "fence.signal", "queue_work", "cancel_work", "worker.wait", "wake_up_all", "spawn",
    "kthread.join", "start",
})


def is_global(kind: str, obj: int, timed: bool = False) -> bool:
    """Dependent with every other transition: no object, an unknown kind, a readiness test
    that reads arbitrary state (``wait_event``, flushes, joins), a timeout, explicit points."""
    return obj == -1 or timed or kind not in LOCAL_KINDS


class DporStrategy(DfsStrategy):
    name = "dpor"

    def __init__(self, preemptions: int = 2, split: tuple[int, int] = (0, 1),
                 limit: int | None = None, claim: Callable[[int], bool] | None = None) -> None:
        super().__init__(preemptions, split=split, limit=limit, reduce=False, claim=claim)
        self.pruned = 0
        self._pending: dict[int, tuple[str, int]] = {}
        # asleep task id -> (object of its pending operation, its own task object)
        self._sleep: dict[int, tuple[int, int]] = {}
        self._seen = 0
        self._done: set[int] = set()
        self._blocked = False

    def new_execution(self) -> bool:
        if self._blocked:
            self.pruned += 1
        self._pending, self._sleep, self._seen = {}, {}, 0
        self._done, self._blocked = set(), False
        return super().new_execution()

    def attach(self, ex: Any) -> None:
        super().attach(ex)
        ex.forced = self._forced

    def _forced(self, tid: int) -> None:
        """Only ``tid`` can run.  The bookkeeping catches up at every decision, forced ones
        included: a task that just finished is then accounted for before any later
        transition (its end may wake sleepers), and if ``tid`` is asleep the rest of the
        path is redundant now, not at the next real choice."""
        ex = self._ex
        self._advance_to(ex)
        if self._blocked or tid in self._sleep:
            self._blocked = True
            ex.abandon()

    def finish(self, ex: Any) -> None:
        if not self._blocked:
            self._advance_to(ex)

    def completed(self) -> int:
        return self.count - self.pruned

    # -- the dependence bookkeeping ------------------------------------------------------------
    def _ran(self, tid: int, arrival: tuple[str, int] | None, ex: Any) -> None:
        """Task ``tid`` ran one transition (arriving at ``arrival``, or finishing)."""
        if tid in self._sleep:
            self._blocked = True        # an asleep task had to run: the path is redundant
            return
        before = self._pending.get(tid) or ("start", self._task_key(ex, tid))
        # finishing is keyed by the task object, which a join on it names
        after = ("kthread.join", self._task_key(ex, tid)) if arrival is None else arrival
        if self._sleep:
            if is_global(*before) or is_global(*after):
                self._sleep.clear()
            else:
                objs = (before[1], after[1])
                for z in [z for z, keys in self._sleep.items()
                          if keys[0] in objs or keys[1] in objs]:
                    del self._sleep[z]
        if arrival is not None:
            self._pending[tid] = arrival

    def _advance_to(self, ex: Any) -> None:
        trace = ex.trace
        while self._seen < len(trace) and not self._blocked:
            tid, kind, n = trace[self._seen]
            self._seen += 1
            self._ran(tid, (kind, n), ex)
        for t in ex.tasks:
            if t.done and t.id not in self._done and not self._blocked:
                self._done.add(t.id)
                self._ran(t.id, None, ex)

    @staticmethod
    def _task_key(ex: Any, tid: int) -> int:
        """The object number of task ``tid`` (what ``spawn`` and ``kthread.join`` name)."""
        n = ex._objs.get(id(ex.tasks[tid]))
        return -2 - tid if n is None else int(n)

    def _timed(self, ex: Any, tid: int) -> bool:
        return ex.tasks[tid].deadline is not None

    # -- the choice ----------------------------------------------------------------------------
    def next_task(self, runnable: list[int], current: int | None, step: int) -> int:
        self._advance_to(self._ex)
        if self._blocked:
            self._ex.abandon()
        return super().next_task(runnable, current, step)

    def options(self, runnable: list[int], current: int | None, used: int) -> list[int]:
        """The tree's options without the asleep tasks; none left: the path is redundant."""
        sleep = self._sleep
        if current is None:
            options = [t for t in runnable if t not in sleep]
        elif used < self.bound:
            options = [current] + [t for t in runnable if t != current and t not in sleep]
        else:
            options = [current]
        if not options:
            self._blocked = True
            self._ex.abandon()
        return options

    def chose(self, level: _Level, current: int | None) -> None:
        if level.has_current and level.index > 0 and current is not None:
            ex = self._ex
            kind, n = self._pending[current]
            if not is_global(kind, n, self._timed(ex, current)):
                # its continuation's subtree was explored first; that transition may end
                # the task, which a join on it depends on: the task object is its key too
                self._sleep[current] = (n, self._task_key(ex, current))

    def token(self) -> str:
        return f"dpor:k{self.bound}:{encode_choices(self._path_deviations)}"
