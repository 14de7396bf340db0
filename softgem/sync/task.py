"""The current task, scheduling points, parking and kernel threads: the explorer's one seam.

Every primitive of :mod:`softgem.sync` identifies its caller with :func:`ident` and, before
each operation that another task could observe, calls :func:`schedule_point` (or, when it may
block, :func:`park`).  Outside an exploration ``runtime`` is None: ``ident`` *is*
``threading.get_ident``, a scheduling point costs one global load, and the primitives block on
their own ``threading`` locks as before.  While an exploration runs (``softgem.explore``
installs a :class:`Runtime`), every model thread is a cooperatively switched task, ``ident``
names that task, and a primitive that would block parks its task instead, with a readiness
test the runtime re-evaluates (as Trio's ``wait_task_rescheduled``, except that the wake-up is
the readiness test turning true rather than an explicit ``reschedule``: no primitive can then
forget to wake a parked task).

Pattern, in each primitive (the explorer prelude)::

    if task.runtime is not None:                    # one global load outside explorations
        task.runtime.park("mutex.lock", self, lambda: not self._lock.locked())
    self._lock.acquire()                            # now never blocks: tasks do not preempt

The prelude returns only when the real path would not block, and no task runs between the
prelude and the real path (switches happen only inside the runtime), so the real path keeps
its own state and invariants unchanged.

Kernel threads (the GPU engines' and workqueues' workers) start through :func:`kthread_run`:
a daemon ``threading.Thread`` normally, a task of the runtime during an exploration, so no
real thread ever runs the core while one is explored.

Rejected alternatives: one parking lot shared by real threads too (every uncontended lock
would pay a Python-level queue operation; the benches must not move); monkey-patching
``threading`` during explorations (hides which operations are scheduling points and makes
the lockdep and trace labels lie).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["KThread", "Runtime", "ident", "install", "kthread_run", "observe", "park", "runtime",
           "schedule_point", "sleep", "task_local", "task_name", "uninstall"]


class KThread(Protocol):
    """A started kernel thread: ``join()`` waits for it to return."""

    name: str

    def join(self) -> None: ...

    def is_alive(self) -> bool: ...


class Runtime(Protocol):
    """What an explorer provides while it runs (see :mod:`softgem.explore.runtime`)."""

    def ident(self) -> int: ...

    def name(self) -> str: ...

    def point(self, kind: str, obj: object) -> None: ...

    def park(self, kind: str, obj: object, ready: Callable[[], bool],
             timeout: float | None = None) -> bool: ...

    def sleep(self, kind: str, seconds: float) -> None: ...

    def observe(self, kind: str, obj: object, detail: object) -> None: ...

    def spawn(self, fn: Callable[[], object], name: str) -> KThread: ...

    def local(self) -> dict[str, Any]: ...


#: The installed runtime, or None (real threads).  Read by every primitive first.
runtime: Runtime | None = None
#: The caller's identity: ``threading.get_ident`` normally, the explorer task's id while one
#: runs.  Primitives call ``task.ident()`` (module attribute: rebinding it switches them all).
ident: Callable[[], int] = threading.get_ident

_thread_local = threading.local()


def install(rt: Runtime) -> None:
    """Make ``rt`` the runtime of every primitive (the explorer calls this; not nestable)."""
    global runtime, ident
    if runtime is not None:
        raise RuntimeError("an exploration is already running")
    runtime = rt
    ident = rt.ident


def uninstall() -> None:
    global runtime, ident
    runtime = None
    ident = threading.get_ident


def schedule_point(kind: str, obj: object) -> None:
    """Let the explorer switch tasks here (a no-op outside an exploration)."""
    rt = runtime
    if rt is not None:
        rt.point(kind, obj)


def observe(kind: str, obj: object, detail: object) -> None:
    """A domain event for the explorer's checkers (e.g. the GPU's address translation), and a
    scheduling point; a no-op outside an exploration."""
    rt = runtime
    if rt is not None:
        rt.observe(kind, obj, detail)


def park(kind: str, obj: object, ready: Callable[[], bool], timeout: float | None = None) -> bool:
    """Explorer only: block this task until ``ready()``; False if ``timeout`` (virtual) passed."""
    rt = runtime
    if rt is None:
        raise RuntimeError("park() outside an exploration: use the primitive's own wait")
    return rt.park(kind, obj, ready, timeout)


def sleep(kind: str, seconds: float) -> None:
    """A pause of ``seconds`` (virtual while exploring, where it is also a scheduling point)."""
    rt = runtime
    if rt is not None:
        rt.sleep(kind, seconds)
        return
    time.sleep(seconds)


def task_name() -> str:
    """The current task's name (the thread's name outside an exploration)."""
    rt = runtime
    return threading.current_thread().name if rt is None else rt.name()


def task_local() -> Any:
    """Per-task storage: a ``threading.local`` normally, the task's own dict when exploring."""
    rt = runtime
    return _thread_local if rt is None else _Namespace(rt.local())


class _Namespace:
    """Attribute access over a task's dict (so callers treat both kinds alike)."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, Any]) -> None:
        object.__setattr__(self, "_d", d)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._d[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._d[name] = value


class _ThreadHandle:
    __slots__ = ("_thread", "name")

    def __init__(self, thread: threading.Thread) -> None:
        self._thread = thread
        self.name = thread.name

    def join(self) -> None:
        self._thread.join()

    def is_alive(self) -> bool:
        return self._thread.is_alive()


def kthread_run(fn: Callable[[], object], name: str) -> KThread:
    """Start a kernel thread running ``fn()`` (``kthread_run``): a task while exploring."""
    rt = runtime
    if rt is not None:
        return rt.spawn(fn, name)
    t = threading.Thread(target=fn, name=name, daemon=True)
    t.start()
    return _ThreadHandle(t)
