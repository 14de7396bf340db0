"""``softgem bench explore``: the explorer's speed on munmap-vs-execbuf.

Figures: schedules per second; one explored schedule's time against the same scenario run
once on real threads (target <= 3x); ``--jobs 2`` against ``--jobs 1`` (target >= 1.7x on
two cores), printed next to a pure-CPU control forked the same way (the machine's floor right
now) and the ratio of the two.  Lockdep is off on both sides of the first ratio so it compares the runtimes only.
"""

from __future__ import annotations

import statistics
import threading
import time

from ..errors import KernelError
from ..explore import PctStrategy, explore, forked, run_schedule
from ..scenarios import ANON, RW, Gem, all_scenarios, get
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


def _burn(n: int) -> int:
    s = 0
    for i in range(n):
        s += i
    return s


def _control(n: int) -> float:
    """The floor: how much faster 2 processes burn a pure-Python loop than 1 (ideal 2.0),
    forked exactly as ``--jobs 2`` forks (this process runs one half, a child the other):
    what this machine can give ``--jobs 2`` right now (other work on the cores shows up)."""
    t0 = time.perf_counter()
    forked(_burn, [n])
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    forked(_burn, [n // 2, n // 2])
    return one / (time.perf_counter() - t0)


def _campaign_rate(schedules: int, jobs: int) -> float:
    t0 = time.perf_counter()
    rep = explore(get(NAME), "pct", schedules=schedules, jobs=jobs, check_lockdep=False)
    return rep.schedules / (time.perf_counter() - t0)


def _tree_seconds(jobs: int) -> tuple[float, int]:
    """The whole dpor tree within one preemption, lockdep off: (wall seconds, schedules)."""
    t0 = time.perf_counter()
    rep = explore(get(NAME), "dpor", preemptions=1, jobs=jobs, check_lockdep=False)
    return time.perf_counter() - t0, rep.schedules


def bench_explore(quick: bool) -> BenchResult:
    all_scenarios()          # registers the catalog, NAME among it
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
    m, rounds = (200, 3) if quick else (1000, 5)
    rates1, rates2, floors = [], [], []
    burn = 0
    for _ in range(rounds):         # interleaved: a load spike hits the campaigns and control
        t0 = time.perf_counter()
        rates1.append(_campaign_rate(m, 1))
        if not burn:                # a control about as long as one --jobs 1 campaign
            t1 = time.perf_counter()
            _burn(1_000_000)
            burn = max(1_000_000, int(1e6 * (t1 - t0) / (time.perf_counter() - t1)))
        rates2.append(_campaign_rate(m, 2))
        floors.append(_control(burn))
    r1, r2 = statistics.median(rates1), statistics.median(rates2)
    res.add("campaign --jobs 1 (median)", f"{r1:,.0f} schedules/s")
    res.add("campaign --jobs 2 (median)", f"{r2:,.0f} schedules/s")
    res.notes.append(f"{n} paired plain/explored runs, medians; {rounds} interleaved rounds of "
                     f"a campaign of {m} PCT d=3 schedules (lockdep off) with --jobs 1, the "
                     "same with --jobs 2, and the pure-CPU control (2 forked processes vs 1, "
                     "same fork as --jobs) of about the same length; wall time including the "
                     "fork; ratios = medians of the per-round ratios.")
    jobs_ratio = statistics.median(b / a for a, b in zip(rates1, rates2, strict=True))
    floor = statistics.median(floors)
    res.add("control: 2 vs 1 processes on pure CPU (the floor)", f"{floor:.3f}x")
    res.add("--jobs 2 / --jobs 1 against the control",
            f"{jobs_ratio / floor:.3f} of what the machine gave the control")
    res.ratio("--jobs 2 / --jobs 1 schedules/s", jobs_ratio, 1.7, ">=")
    if not quick:               # the tree split (first deviations claimed), side by side
        tree1, tree2 = [], []
        for _ in range(rounds):
            t1, n1 = _tree_seconds(1)
            t2, n2 = _tree_seconds(2)
            if n1 != n2:
                raise RuntimeError(f"the tree split ran {n2} schedules, one process {n1}")
            tree1.append(t1)
            tree2.append(t2)
        res.add(f"dpor tree K=1 ({n1:,} schedules) --jobs 1 / --jobs 2 (median)",
                f"{statistics.median(a / b for a, b in zip(tree1, tree2, strict=True)):.3f}x "
                f"({statistics.median(tree1):.1f} s vs {statistics.median(tree2):.1f} s)")
    res.ratio("explored schedule / plain run", e / p, 3.0, "<=")
    return res
