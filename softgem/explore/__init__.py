"""softgem.explore: deterministic exploration of the core's interleavings (side layer).

While a schedule runs, every model thread (scenario threads, GPU engines, workqueue workers)
is a greenlet task and every ``softgem.sync`` operation is a scheduling point; a strategy
(random walk, PCT, bounded-preemption DFS, replay) picks the task at each point.  Failures
(deadlock, lockdep, use after free, leaks, stale GPU access, livelock, scenario assertions)
come with a replay token that reproduces the schedule exactly.  See docs/explore.md.

This layer imports only the base (``softgem.sync``, ``softgem.errors``); scenarios, which
need a Machine, live in the top-layer package ``softgem.scenarios``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..sync import task as _task
from .campaign import Report, explore, replay, run_schedule
from .estimate import Estimate, estimate
from .parallel import forked
from .pct import PctStrategy
from .pct import bound as pct_bound
from .runtime import ExploreFailure, Task, current_execution
from .testing import assert_clean, explored

__all__ = ["Estimate", "ExploreFailure", "PctStrategy", "Report", "Task", "assert_clean", "current_execution",
           "estimate", "explored", "exploring", "explore", "fail", "forked", "join_all", "observe", "pct_bound",
           "point", "replay", "run_schedule", "spawn"]


def exploring() -> bool:
    """True inside a schedule (scenario code may then use spawn/fail/join_all)."""
    return _task.runtime is not None


def spawn(fn: Callable[[], object], name: str) -> Task:
    """Start a model thread of the running scenario (not a daemon: the schedule waits)."""
    return current_execution().spawn(fn, name, daemon=False)


def join_all() -> None:
    """Wait until every non-daemon task but the caller has finished."""
    ex = current_execution()
    me = ex.current
    for t in list(ex.tasks):
        if t is not me and not t.daemon:
            t.join()


def point(name: str, obj: object = None) -> None:
    """An explicit scheduling point (where code reads a shared field without a lock)."""
    _task.schedule_point(name, obj)


def observe(kind: str, obj: object, detail: object) -> None:
    """Report a domain event to the running schedule's checkers (no-op outside one)."""
    rt = _task.runtime
    fn = getattr(rt, "observe", None)
    if fn is not None:
        fn(kind, obj, detail)


def fail(kind: str, message: str) -> None:
    """Scenario code: this schedule failed (a checker or an assertion of the scenario)."""
    raise ExploreFailure(kind, message)
