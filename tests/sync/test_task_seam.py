"""softgem.sync.task and softgem.sync.clock outside an exploration: real threads, real time."""

from __future__ import annotations

import threading
import time

import pytest

from softgem.sync import Completion, WaitQueue, clock, kthread_run, schedule_point, task
from softgem.sync.deadline import Deadline


def test_outside_an_exploration_the_seam_is_the_thread() -> None:
    assert task.runtime is None
    assert task.ident() == threading.get_ident()
    assert task.task_name() == threading.current_thread().name
    schedule_point("nothing", None)                 # a no-op
    with pytest.raises(RuntimeError):
        task.park("x", None, lambda: True)


def test_kthread_run_starts_a_real_daemon_thread() -> None:
    seen: list[str] = []
    done = Completion("t_seam.done")

    def work() -> None:
        seen.append(threading.current_thread().name)
        done.complete_all()

    k = kthread_run(work, "kworker/t_seam")
    assert done.wait(5.0)
    k.join()
    assert seen == ["kworker/t_seam"] and not k.is_alive()


def test_the_injected_clock_drives_waits_and_deadlines() -> None:
    fake = [1000.0]
    clock.set_source(lambda: fake[0])
    try:
        assert clock.monotonic() == 1000.0 and clock.monotonic_ns() == 1000 * 10**9
        d = Deadline(5.0)
        assert not d.expired()
        fake[0] += 5.0
        assert d.expired() and d.remaining() == 0.0
    finally:
        clock.set_source(None)
    assert abs(clock.monotonic() - time.monotonic()) < 1.0
    assert not WaitQueue("t_seam.wq").wait_event(lambda: False, timeout=0.01)
