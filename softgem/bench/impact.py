"""``softgem bench impact``: what registered userptr notifiers cost everybody else.

Method (IGT ``benchmarks/gem_userptr_benchmark.c``, subtests ``userptr-impact`` and
``userptr-impact-overlap``): register N interval notifiers of 64 KiB on an address space,
over memory that is not being unmapped, then measure how fast that same address space runs
cycles of "1000 x mmap(1000 bytes, anonymous, private), then munmap each".  Every munmap
raises an UNMAP invalidation that the notifier layer must check against all N intervals;
none overlaps, so the cost is pure overhead.  Two layouts, as in IGT:

* no-overlap: the intervals tile the block, 64 KiB apart;
* overlap-16: an interval starts on every page, so each address is covered by 16 of them.

N = 0 has no subscriptions installed at all: the address space of a process that never
made a userptr, where the mm's "does anyone listen?" test is all that runs.  The callback
is the v6.8 userptr one: set the seq, return True.

Fairness: every configuration gets its own address space, built up front.  Each round
samples every configuration once, in a rotating order, so drifting machine load cannot
favour one N.  A ratio is the median over rounds of (rate with N) / (rate with 0) taken in
the same round: load that comes and goes hits both sides of a pair alike, and the median
drops the rounds it hit unevenly.  Rates shown are each configuration's best sample.
Samples are timed in this thread's CPU time (the work is single-threaded and never sleeps),
so time spent descheduled by other processes is not counted either.  The long-lived
notifiers are moved out of the cyclic GC's view (``gc.freeze``) and the collector is paused
inside a sample, so a full collection over 100k objects is not charged to whichever sample
it hits.

Also reported, to check the design target directly: the cost of one miss query of the
interval index at the largest N, and of a whole invalidate_range_start/end pair that
misses, next to the cost of one mmap+munmap pair with no subscriptions.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..mm import Mm, NotifierRange, NotifyEvent, PhysMem
from ..notifier import (
    MmuIntervalNotifier,
    mmu_interval_notifier_insert,
    mmu_interval_set_seq,
    subscriptions_of,
)
from ..posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from ..units import PAGE_SIZE
from .runner import BenchResult

__all__ = ["bench_impact"]

BO_SIZE = 64 * 1024
MAP_LEN = 1000
VARIANTS = {"no-overlap": BO_SIZE, "overlap-16": PAGE_SIZE}   # name -> interval stride


@dataclass(frozen=True, slots=True)
class _Plan:
    ns: tuple[int, ...]
    maps_per_cycle: int
    cycles_per_sample: int
    rounds: int


FULL = _Plan(ns=(0, 1000, 10000, 100000), maps_per_cycle=1000, cycles_per_sample=1,
             rounds=40)
QUICK = _Plan(ns=(0, 100000), maps_per_cycle=200, cycles_per_sample=1, rounds=3)


class _SetSeq:
    """The v6.8 i915 userptr ``invalidate``: record the collision, never block, never fail."""

    __slots__ = ()

    def invalidate(self, sub: MmuIntervalNotifier, rng: NotifierRange, cur_seq: int) -> bool:
        mmu_interval_set_seq(sub, cur_seq)
        return True


@dataclass
class _Config:
    variant: str
    n: int
    mm: Mm
    notifiers: list[MmuIntervalNotifier]
    best: float = 0.0                  # best mmap+munmap pairs per second
    samples: list[float] = field(default_factory=list)


def _build(phys: PhysMem, stride: int, n: int) -> tuple[Mm, list[MmuIntervalNotifier]]:
    mm = Mm(phys)
    notifiers: list[MmuIntervalNotifier] = []
    if n:
        block = mm.mmap(0, stride * (n - 1) + BO_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS)
        ops = _SetSeq()
        for i in range(n):
            sub = MmuIntervalNotifier()
            mmu_interval_notifier_insert(sub, mm, block + i * stride, BO_SIZE, ops)
            notifiers.append(sub)
    return mm, notifiers


def _sample(mm: Mm, plan: _Plan) -> float:
    """mmap+munmap pairs per second over ``cycles_per_sample`` IGT cycles."""
    mmap, munmap = mm.mmap, mm.munmap
    prot, flags = PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
    maps = range(plan.maps_per_cycle)
    gc.disable()
    try:
        t0 = time.thread_time()
        for _ in range(plan.cycles_per_sample):
            addrs = [mmap(0, MAP_LEN, prot, flags) for _ in maps]
            for addr in addrs:
                munmap(addr, MAP_LEN)
        elapsed = time.thread_time() - t0
    finally:
        gc.enable()
    return plan.cycles_per_sample * plan.maps_per_cycle / elapsed


def _per_call(fn: Callable[[], object], calls: int) -> float:
    """Best-of-five microseconds per call of ``fn``."""
    best = float("inf")
    for _ in range(5):
        t0 = time.thread_time()
        for _ in range(calls):
            fn()
        best = min(best, time.thread_time() - t0)
    return best / calls * 1e6


def _miss_costs(cfg: _Config, result: BenchResult) -> None:
    """Time the notifier's share of one munmap directly, at the largest N."""
    subs = subscriptions_of(cfg.mm)
    if subs is None:
        return
    probe = cfg.mm.mmap(0, MAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    cfg.mm.munmap(probe, MAP_LEN)       # the address the benchmark's maps land on
    rng = NotifierRange(cfg.mm, probe, probe + PAGE_SIZE, NotifyEvent.UNMAP)
    query = _per_call(lambda: subs.itree.overlapping(rng.start, rng.end), 20000)

    def start_end() -> None:
        subs.invalidate_range_start(rng)
        subs.invalidate_range_end(rng)

    pair = _per_call(start_end, 20000)
    label = f"{cfg.variant} N={cfg.n}"
    result.add(f"{label}: interval-index miss query (us)", f"{query:.2f}")
    result.add(f"{label}: invalidate_range_start+end miss (us)", f"{pair:.2f}")


def _run_rounds(configs: list[_Config], plan: _Plan) -> None:
    for r in range(plan.rounds):
        k = r % len(configs)
        order = configs[k:] + configs[:k]
        if r % 2:
            order.reverse()
        for cfg in order:
            rate = _sample(cfg.mm, plan)
            cfg.samples.append(rate)
            cfg.best = max(cfg.best, rate)


def _paired_ratio(cfg: _Config, baseline: _Config) -> float:
    """Median over rounds of this configuration's rate over the baseline's, same round."""
    return statistics.median(x / b for x, b in zip(cfg.samples, baseline.samples, strict=True))


def _short(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 else str(n)


def _report(configs: list[_Config], plan: _Plan, quick: bool) -> BenchResult:
    baseline, top = configs[0], max(plan.ns)
    result = BenchResult(f"userptr impact: mmap+munmap rate with N interval notifiers "
                         f"({'quick' if quick else 'full'})")
    result.add("N=0 (no subscriptions): mmap+munmap pairs/s", f"{baseline.best:,.0f}")
    result.add("N=0: one mmap+munmap pair (us)", f"{1e6 / baseline.best:.2f}")
    for variant in VARIANTS:
        for cfg in configs[1:]:
            if cfg.variant == variant:
                result.add(f"{variant} N={cfg.n}: mmap+munmap pairs/s",
                           f"{cfg.best:,.0f} ({_paired_ratio(cfg, baseline):.3f} of N=0)")
        _miss_costs(next(c for c in configs if c.variant == variant and c.n == top), result)
    for variant in VARIANTS:
        cfg = next(c for c in configs if c.variant == variant and c.n == top)
        result.ratio(f"{variant} {_short(top)}/0", _paired_ratio(cfg, baseline), 0.8)
    result.notes.append(
        f"{plan.rounds} interleaved rounds x {plan.cycles_per_sample} cycle(s) of "
        f"{plan.maps_per_cycle} mmap({MAP_LEN}) + munmap per configuration; ratios are "
        f"medians of same-round pairs.  Intervals are {BO_SIZE // 1024} KiB; overlap-16 "
        f"starts one per page.")
    return result


def bench_impact(quick: bool) -> BenchResult:
    """The ``impact`` benchmark (see the module docstring); ``quick`` for tests."""
    plan = QUICK if quick else FULL
    phys = PhysMem(1024)
    configs = [_Config("none", 0, *_build(phys, BO_SIZE, 0))]
    for variant, stride in VARIANTS.items():
        configs += [_Config(variant, n, *_build(phys, stride, n)) for n in plan.ns if n]
    gc.collect()
    gc.freeze()
    try:
        _run_rounds(configs, plan)
        return _report(configs, plan, quick)
    finally:
        gc.unfreeze()
