"""The deterministic runtime: one schedule of cooperatively switched tasks (greenlets).

:class:`Execution` implements :class:`softgem.sync.task.Runtime`.  While it runs, every model
thread is a :class:`Task` (a greenlet); all of them run on the caller's OS thread, and a
switch happens only inside a ``softgem.sync`` operation (a scheduling point).  At each point
the runtime lists the runnable tasks (a parked task is runnable once its readiness test holds,
or once its virtual deadline has passed) and asks the strategy which one runs next; if that
is the current task there is no switch at all (the hot path).  Time is virtual: it advances
to the nearest deadline only when no task is runnable; with no deadline left and unfinished
tasks, that is a deadlock.

Per-execution state lives in this one object, so resetting between schedules is dropping it.
Failures end the execution at once: the failing task stays parked, the others are unwound by
throwing ``GreenletExit`` into them with the runtime in *teardown* (points do not switch, a
park that cannot proceed raises again, so no real lock is ever waited on).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import greenlet

from ..sync import clock
from ..sync import task as sync_task
from .diagnose import classify, cycle, holder, holder_ids, label
from .model import ExploreFailure, Failure, Scheduler, Task

__all__ = ["Execution", "Failure", "Scheduler", "Task", "ExploreFailure", "current_execution"]


_current: Execution | None = None


def current_execution() -> Execution:
    if _current is None:
        raise RuntimeError("not inside an exploration (use softgem.explore.explore)")
    return _current


class _Teardown(greenlet.GreenletExit):  # type: ignore[misc]
    pass


class Execution:
    """One schedule: run ``body`` as task 0 and everything it spawns, under ``scheduler``."""

    def __init__(self, scheduler: Scheduler, *, max_steps: int = 200_000,
                 observers: list[Callable[[str, object, object], None]] | None = None) -> None:
        self.scheduler = scheduler
        self.max_steps = max_steps
        self.tasks: list[Task] = []
        self.current: Task | None = None
        self.now = 0.0
        self.steps = 0
        self.trace: list[tuple[int, str, int]] = []     # (task id, kind, object number)
        self._objs: dict[int, int] = {}
        self._keep: list[object] = []                    # keeps numbered objects' ids unique
        self.labels: list[str] = []
        self.choices: list[int] = []                     # the chosen task at each real choice
        # told the task that runs where it is the only one (a reducing strategy may then
        # find the execution redundant at once, not at its next real choice)
        self.forced: Callable[[int], None] | None = None
        self.deviations: list[tuple[int, int]] = []      # (choice number, task) off default
        self.preemptions = 0
        self.failure: Failure | None = None
        self.teardown = False
        self._teardown_steps = 0
        self.observers = list(observers or [])
        # called with the task about to block (its wait_obj/wait_kind set) at each real block
        self.block_observers: list[Callable[[Task], None]] = []
        self._hub: greenlet.greenlet | None = None

    # -- running -----------------------------------------------------------------------------
    def run(self, body: Callable[[], object]) -> Failure | None:
        global _current
        if _current is not None:
            raise RuntimeError("explorations do not nest")
        self._hub = greenlet.getcurrent()
        _current = self
        sync_task.install(self)
        clock.set_source(lambda: self.now)
        try:
            nxt: Task | None = self.spawn(body, "main", daemon=False)
            while nxt is not None and self.failure is None:
                self.current = nxt
                nxt = self._enter(nxt)
            if self.failure is None:
                self._check_finished()
        finally:
            self._unwind()
            clock.set_source(None)
            sync_task.uninstall()
            _current = None
        return self.failure

    def _enter(self, t: Task) -> Task | None:
        g = t.glet
        assert g is not None
        res = g.switch()
        return res if isinstance(res, Task) else None

    def _check_finished(self) -> None:
        left = [t for t in self.tasks if not t.done and not t.daemon]
        if left:
            self._deadlock(left)

    def _unwind(self) -> None:
        self.teardown = True
        for t in self.tasks:
            g = t.glet
            if g is not None and not g.dead and g is not greenlet.getcurrent():
                self.current = t            # its unwinding (unlocks) runs as itself
                try:
                    g.throw(_Teardown)
                except BaseException:
                    pass
        self.current = None

    def _task_main(self, t: Task) -> Task | None:
        try:
            t.fn()
        except greenlet.GreenletExit:
            t.done = True
            return None
        except ExploreFailure as exc:
            self._record(exc.kind, exc.message, t, exc)
        except BaseException as exc:
            self._record(classify(exc), f"{type(exc).__name__}: {exc}", t, exc)
        t.done = True
        t.end = len(self.trace)
        if self.failure is not None or self.teardown:
            return None
        return self._decide(t)

    def _record(self, kind: str, message: str, t: Task | None,
                exc: BaseException | None = None) -> None:
        if self.failure is not None:
            return
        stacks = self.stacks()
        if exc is not None and t is not None:
            lines = traceback.format_exception(exc)
            stacks[t.name] = [ln.rstrip() for ln in lines if "/softgem/sync/" not in ln
                              and "/softgem/explore/" not in ln][-10:]
        self.failure = Failure(kind, message, t.name if t else "", stacks)

    def stacks(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        running = greenlet.getcurrent()
        for t in self.tasks:
            g = t.glet
            if g is None or g.dead:
                continue
            if g is running:
                frames = traceback.format_stack()       # the task reporting the failure
            elif g.gr_frame is None:
                continue
            else:
                frames = traceback.format_stack(g.gr_frame)
            out[t.name] = [f.rstrip() for f in frames if "/softgem/sync/" not in f
                           and "/softgem/explore/" not in f and "greenlet" not in f][-8:]
        return out

    def fail(self, kind: str, message: str) -> None:
        """Record a failure and stop this execution (from inside a task)."""
        self._record(kind, message, self.current)
        self._to_hub()

    def abandon(self) -> None:
        """Stop this execution without a failure (a reducing strategy found it redundant)."""
        self.failure = Failure("pruned", "")
        self._to_hub()

    def _to_hub(self) -> None:
        hub = self._hub
        assert hub is not None
        hub.switch(None)
        raise _Teardown()       # resumed only by the teardown's throw; never continues

    # -- sync.task.Runtime -------------------------------------------------------------------
    def ident(self) -> int:
        t = self.current
        return -1 if t is None else t.id

    def name(self) -> str:
        t = self.current
        return "explorer" if t is None else t.name

    def local(self) -> dict[str, Any]:
        t = self.current
        assert t is not None
        return t.local

    def spawn(self, fn: Callable[[], object], name: str, daemon: bool = True) -> Task:
        t = Task(len(self.tasks), name, fn, daemon)
        t.glet = greenlet.greenlet(lambda: self._task_main(t), parent=self._hub)
        self.tasks.append(t)
        if self.current is not None:
            self.point("spawn", t)
        return t

    def point(self, kind: str, obj: object) -> None:
        if self.teardown:
            self._teardown_step()
            return
        cur = self.current
        assert cur is not None
        self._step(cur, kind, obj)
        try:
            self._switch_or_end(cur, self._decide(cur))
        except _Teardown:
            if kind not in _RELEASES:
                raise
            # Unwound at a release's point (the point comes before the release): let the
            # release happen, and the task go on in teardown mode.  A lock left held here
            # would outlive the execution when it is module-level (gem.mman's mmo lock).

    def _switch_or_end(self, cur: Task, nxt: Task | None) -> None:
        if nxt is None:
            self._to_hub()      # only daemons left, parked for good: the execution is over
        elif nxt is not cur:
            self._switch(cur, nxt)

    def park(self, kind: str, obj: object, ready: Callable[[], bool],
             timeout: float | None = None) -> bool:
        cur = self.current
        assert cur is not None
        if self.teardown:
            self._teardown_step()
            if ready():
                return True
            raise _Teardown()
        self._step(cur, kind, obj)
        cur.ready = ready
        cur.deadline = None if timeout is None else self.now + timeout
        cur.wait_kind, cur.wait_obj = kind, obj
        if self.block_observers and not ready():
            for fn in self.block_observers:
                fn(cur)
        self._switch_or_end(cur, self._decide(cur))
        cur.ready = None
        cur.deadline = None
        cur.wait_obj = None
        return ready()

    def _teardown_step(self) -> None:
        """Unwinding code that catches the exit and carries on is cut off after a while."""
        self._teardown_steps += 1
        if self._teardown_steps > 10_000:
            raise _Teardown()

    def sleep(self, kind: str, seconds: float) -> None:
        self.park(kind, None, _never, max(seconds, 1e-9))

    def observe(self, kind: str, obj: object, detail: object) -> None:
        """A domain event (e.g. the GPU translating addresses): run the checkers, then a
        scheduling point."""
        if self.teardown:
            return
        for fn in self.observers:
            fn(kind, obj, detail)
        self.point(kind, obj)

    # -- scheduling --------------------------------------------------------------------------
    def _step(self, cur: Task, kind: str, obj: object) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            self._record("livelock", f"no end after {self.max_steps} scheduling points "
                         "(livelock, or raise max_steps)", cur)
            self._to_hub()
        self.trace.append((cur.id, kind, self._number(obj)))

    def _number(self, obj: object) -> int:
        if obj is None:
            return -1
        key = id(obj)
        n = self._objs.get(key)
        if n is None:
            n = self._objs[key] = len(self._keep)
            self._keep.append(obj)
            self.labels.append(label(obj))
        return n

    def _decide(self, cur: Task) -> Task | None:
        """The next task to run (None: every task finished, or a failure was recorded)."""
        while True:
            now = self.now
            runnable = [t for t in self.tasks if t.runnable(now)]
            if runnable:
                break
            deadlines = [t.deadline for t in self.tasks if not t.done and t.deadline is not None]
            if not deadlines:
                left = [t for t in self.tasks if not t.done]
                if not left or all(t.daemon for t in left):
                    return None
                self._deadlock(left)
                if cur.done:
                    return None
                self._to_hub()
            self.now = min(deadlines)
        if len(runnable) == 1:
            nxt = runnable[0]
            if self.forced is not None:
                self.forced(nxt.id)
        else:
            ids = [t.id for t in runnable]
            current = cur.id if cur in runnable else None
            chosen = self.scheduler.next_task(ids, current, self.steps)
            if chosen != (ids[0] if current is None else current):
                self.deviations.append((len(self.choices), chosen))
            self.choices.append(chosen)
            if current is not None and chosen != current:
                self.preemptions += 1
            nxt = self.tasks[chosen]
        return nxt

    def _switch(self, cur: Task, nxt: Task) -> None:
        self.current = nxt
        g = nxt.glet
        assert g is not None
        g.switch()
        self.current = cur

    def _deadlock(self, left: list[Task]) -> None:
        lines = ["every task is blocked:"]
        for t in left:
            if t.daemon and t.wait_kind == "worker.wait":
                continue
            who = holder(t.wait_obj, self.tasks)
            what = label(t.wait_obj) if t.wait_obj is not None else "?"
            tail = f" held by {who}" if who else ""
            lines.append(f"  task {t.name} waits ({t.wait_kind}) for {what}{tail}")
        loop = cycle(left, self.tasks)
        if loop:
            lines.insert(0, "deadlock: " + loop)
        self._record("deadlock", "\n".join(lines), None)

    def holders(self, obj: object) -> list[Task]:
        """The tasks holding ``obj`` (a Mutex's owner, an RwSem's writer or readers)."""
        return [self.tasks[i] for i in holder_ids(obj) if 0 <= i < len(self.tasks)]

    # -- replay support ------------------------------------------------------------------------
    def trace_text(self) -> str:
        names = {t.id: t.name for t in self.tasks}
        return "\n".join(f"{names[tid]}\t{kind}\t{self.labels[n] if n >= 0 else ''}"
                         for tid, kind, n in self.trace)


#: Points that come just before a primitive releases something.
_RELEASES = frozenset({"mutex.unlock", "rwsem.up_read", "rwsem.up_write",
                       "rwsem.downgrade_write", "seqcount.write_end"})


def _never() -> bool:
    return False
