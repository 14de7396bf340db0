"""``softgem bench explore``: the explorer's speed on munmap-vs-execbuf.

Figures: schedules per second; one explored schedule's time against the same scenario run
once on real threads (target <= 3x); ``--jobs 2`` against ``--jobs 1`` (target >= 1.7x on
two cores).  Lockdep is off on both sides of the first ratio so it compares the runtimes only.
"""

from __future__ import annotations

import statistics
import threading
import time

from ..errors import KernelError
from ..explore import explore
from ..explore.campaign import run_schedule
from ..explore.pct import PctStrategy
from ..scenarios import get
from ..scenarios.catalog import munmap_vs_execbuf
from ..scenarios.gem import ANON, RW, Gem
from .runner import BenchResult

__all__ = ["bench_explore"]

NAME = "munmap-vs-execbuf"


def _plain_once() -> float:
    """The scenario's work on real threads, no explorer (the same operations)."""
    from ..machine import Machine

    t0 = time.perf_counter()
    m = Machine(memory=64 << 20)
    gem = Gem(m.spawn("race"))
    ptr = gem.proc.mmap(0, 4096, RW, ANON)
    bo = gem.userptr(ptr, 4096)
    threads = [threading.Thread(target=lambda: gem.store(bo, 0xC0FFEE)),
               threading.Thread(target=lambda: gem.proc.munmap(ptr, 4096))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        gem.close(bo)
    except (KernelError, OSError):
        pass
    m.shutdown()
    return time.perf_counter() - t0


def _explored_once(seed: int) -> tuple[float, int]:
    scen = get(NAME)
    strat = PctStrategy([seed], depth=3, k=600, fixed_k=True)
    strat.new_execution()
    t0 = time.perf_counter()
    ex, failure = run_schedule(scen.body, strat, check_lockdep=False)
    if failure is not None:
        raise RuntimeError(f"{NAME} failed while benchmarking: {failure.message}")
    return time.perf_counter() - t0, ex.steps


def bench_explore(quick: bool) -> BenchResult:
    assert munmap_vs_execbuf is not None
    res = BenchResult(f"softgem explore on {NAME}")
    n = 30 if quick else 200
    plain, explored, steps = [], [], []
    for i in range(n):
        plain.append(_plain_once())
        dt, k = _explored_once(i)
        explored.append(dt)
        steps.append(k)
    p, e = statistics.median(plain), statistics.median(explored)
    res.add("plain run on threads (median)", f"{p * 1e3:.2f} ms")
    res.add("one explored schedule (median)", f"{e * 1e3:.2f} ms")
    res.add("scheduling points per schedule (median)", f"{statistics.median(steps):.0f}")
    res.add("explored schedules/s (one process)", f"{1 / e:,.0f}")
    m = 100 if quick else 1000
    t0 = time.perf_counter()
    one = explore(get(NAME), "pct", schedules=m, check_lockdep=False)
    t1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    two = explore(get(NAME), "pct", schedules=m, jobs=2, check_lockdep=False)
    t2 = time.perf_counter() - t0
    res.add("campaign --jobs 1", f"{one.schedules / t1:,.0f} schedules/s")
    res.add("campaign --jobs 2", f"{two.schedules / t2:,.0f} schedules/s")
    res.notes.append(f"{n} paired plain/explored runs, medians; campaigns of {m} PCT d=3 "
                     "schedules (lockdep off), wall time including the worker start.")
    res.ratio("--jobs 2 / --jobs 1 schedules/s", (two.schedules / t2) / (one.schedules / t1),
              1.7, ">=")
    res.ratio("explored schedule / plain run", e / p, 3.0, "<=")
    return res
