"""Campaigns: run many schedules of one scenario under a strategy; the Python API.

``explore(scenario, strategy=..., ...) -> Report`` and ``replay(scenario, token) -> Report``.
A *scenario* is a callable run as the first task of each schedule (it builds a fresh machine,
spawns model threads with :func:`softgem.explore.spawn`, joins them and checks the end state),
or an object with such a ``body`` and the defaults ``preemptions``, ``pct_schedules``,
``pct_depth``.  Each schedule also runs the lockdep validator from a clean graph.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..sync import lockdep
from . import tokens
from .dfs import DfsStrategy
from .dpor import DporStrategy
from .pct import PctStrategy, bound
from .random import RandomStrategy, execution_seed
from .replay import ReplayStrategy
from .runtime import Execution, Failure, Scheduler

__all__ = ["Report", "explore", "replay", "run_schedule", "resolve"]

DFS_LIKE = ("dfs", "dfs-plain", "dpor")     # tree searches: a schedule limit, not seeds

Progress = Callable[[int, int, int, int], None]   # done, total, distinct traces, failures


@dataclass
class Report:
    scenario: str
    strategy: str
    failed: bool = False
    kind: str = ""
    token: str = ""
    message: str = ""
    schedules: int = 0
    distinct: int = 0
    elapsed: float = 0.0
    trace: str = ""
    steps: list[tuple[str, str, str]] = field(default_factory=list)   # task, kind, object
    tasks: list[str] = field(default_factory=list)
    stacks: dict[str, list[str]] = field(default_factory=dict)
    guarantee: str = ""
    found_at: int = 0           # 1-based schedule number of the first failure
    original_token: str = ""    # the token before shrinking
    pruned: int = 0             # dpor: redundant executions cut short (not in schedules)

    def summary(self) -> str:
        head = f"{self.scenario}: {self.schedules} schedules ({self.strategy}), " \
               f"{self.distinct} distinct traces, {self.elapsed:.2f}s"
        if not self.failed:
            return f"{head}: no failure. {self.guarantee}".rstrip()
        return f"{head}: {self.kind} at schedule {self.found_at}: token {self.token}\n" \
               f"{self.message}"


def resolve(scenario: Any) -> tuple[str, Callable[[], object], dict[str, int]]:
    body = getattr(scenario, "body", None)
    if body is None:
        if not callable(scenario):
            raise TypeError(f"{scenario!r} is not a scenario (a callable or has .body)")
        body = scenario
    name = getattr(scenario, "name", None) or getattr(body, "__name__", "scenario")
    defaults = {k: int(getattr(scenario, k)) for k in ("preemptions", "pct_schedules",
                                                        "pct_depth", "max_steps")
                if isinstance(getattr(scenario, k, None), int)}
    return str(name), body, defaults


def run_schedule(body: Callable[[], object], scheduler: Scheduler, *, max_steps: int = 200_000,
                 check_lockdep: bool = True) -> tuple[Execution, Failure | None]:
    """One schedule of ``body`` under ``scheduler`` (which has had ``new_execution``)."""
    ex = Execution(scheduler, max_steps=max_steps)
    attach = getattr(scheduler, "attach", None)
    if attach is not None:
        attach(ex)
    was = lockdep.enabled
    lockdep.reset()
    if check_lockdep:
        lockdep.enable()
    else:
        lockdep.disable()
    try:
        failure = ex.run(body)
        if failure is None and check_lockdep:
            reps = lockdep.reports()
            if reps:
                failure = Failure("lockdep", reps[0].message)
                ex.failure = failure
    finally:
        # The schedule's reports belong to its Report, not to whoever called the explorer.
        lockdep.reset()
        if was:
            lockdep.enable()
        else:
            lockdep.disable()
    return ex, failure


def digest(ex: Execution) -> bytes:
    return hashlib.blake2b(repr(ex.trace).encode(), digest_size=8).digest()


def make_strategy(strategy: str, *, seeds: list[int], depth: int, preemptions: int,
                  split: tuple[int, int] = (0, 1), limit: int | None = None,
                  k: int = 1000, shared: frozenset[str] = frozenset(),
                  claim: Callable[[int], bool] | None = None) -> Any:
    if strategy == "random":
        return RandomStrategy(seeds)
    if strategy == "pct":
        return PctStrategy(seeds, depth=depth, k=k)
    if strategy == "dfs":
        return DfsStrategy(preemptions, split=split, limit=limit, shared=shared)
    if strategy == "dfs-plain":     # no reduction at all (the reference for dpor)
        return DfsStrategy(preemptions, split=split, limit=limit, reduce=False, claim=claim)
    if strategy == "dpor":
        return DporStrategy(preemptions, split=split, limit=limit, claim=claim)
    raise ValueError(f"unknown strategy {strategy!r} (random, pct, dfs, dpor)")


def token_of(strat: Any, ex: Execution) -> str:
    if isinstance(strat, DporStrategy):
        return f"dpor:k{strat.bound}:{tokens.encode_choices(ex.deviations)}"
    if isinstance(strat, DfsStrategy):
        return f"dfs:k{strat.bound}:{tokens.encode_choices(ex.deviations)}"
    if isinstance(strat, ReplayStrategy):
        return f"replay:{tokens.encode_choices(ex.deviations)}"
    tok: str = strat.token()
    return tok


@dataclass
class Slice:
    """What one worker (or the whole local campaign) found."""

    schedules: int = 0
    digests: set[bytes] = field(default_factory=set)
    failure_token: str = ""
    failure_kind: str = ""
    found_at: int = 0
    max_steps_seen: int = 0
    max_tasks: int = 0
    exhausted: bool = False
    shared: frozenset[str] = frozenset()
    pruned: int = 0             # DPOR: executions abandoned as redundant (not in schedules)


def run_slice(body: Callable[[], object], strategy: str, *, seeds: list[int], depth: int,
              preemptions: int, split: tuple[int, int] = (0, 1), limit: int | None = None,
              max_steps: int = 200_000, check_lockdep: bool = True,
              progress: Progress | None = None, total: int = 0,
              stop_on_failure: bool = True, shared: frozenset[str] = frozenset(),
              refill: Callable[[bool], list[int]] | None = None,
              claim: Callable[[int], bool] | None = None) -> Slice:
    """Run one strategy's schedules.  ``refill(failed)``, for seeded strategies, hands out
    more seeds whenever these run out (``--jobs``: chunks claimed from a shared counter);
    ``claim(root)``, for tree searches, says whether this worker takes a subtree."""
    strat = make_strategy(strategy, seeds=seeds, depth=depth, preemptions=preemptions,
                          split=split, limit=limit, shared=shared, claim=claim)
    out = Slice()
    failures = 0
    while strat.new_execution() or (refill is not None and strat.add_seeds(
            refill(bool(out.failure_token))) and strat.new_execution()):
        ex, failure = run_schedule(body, strat, max_steps=max_steps, check_lockdep=check_lockdep)
        if failure is not None and failure.kind == "pruned":
            continue            # a redundant path (DPOR): an explored schedule covers it
        out.schedules += 1
        out.digests.add(digest(ex))
        out.max_steps_seen = max(out.max_steps_seen, ex.steps)
        out.max_tasks = max(out.max_tasks, len(ex.tasks))
        # The token names the k this schedule drew its change points with, before learning.
        tok = token_of(strat, ex) if failure is not None else ""
        if isinstance(strat, PctStrategy):
            strat.observe_steps(ex.steps, len(ex.tasks))
        if isinstance(strat, DfsStrategy):
            strat.finish(ex)
        if failure is not None:
            failures += 1
            if not out.failure_token:
                out.failure_token, out.failure_kind = tok, failure.kind
                out.found_at = out.schedules
            if stop_on_failure:
                break
        if progress is not None:
            progress(out.schedules, total, len(out.digests), failures)
    if refill is not None and out.failure_token:
        refill(True)            # the other workers stop at their next chunk
    out.exhausted = bool(getattr(strat, "exhausted", False))
    if isinstance(strat, DporStrategy):
        out.pruned = strat.pruned
        out.schedules = strat.completed()
    elif isinstance(strat, DfsStrategy):
        out.schedules = strat.count     # the final, complete pass (after any restart)
        out.shared = frozenset(strat.shared)
    return out


def explore(scenario: Any, strategy: str = "pct", *, schedules: int | None = None,
            seed: int = 0, depth: int | None = None, preemptions: int | None = None,
            jobs: int = 1, shrink: bool = True, max_steps: int | None = None,
            check_lockdep: bool = True, progress: Progress | None = None,
            ray_address: str | None = None, scenario_ref: str = "") -> Report:
    """Run a campaign; the report holds the first failure (shrunk) with its replay token."""
    name, body, dflt = resolve(scenario)
    depth = depth if depth is not None else dflt.get("pct_depth", 3)
    preemptions = preemptions if preemptions is not None else dflt.get("preemptions", 2)
    max_steps = max_steps if max_steps is not None else dflt.get("max_steps", 200_000)
    if schedules is None:
        schedules = dflt.get("pct_schedules", 1000) if strategy not in DFS_LIKE \
            else 1_000_000
    started = time.perf_counter()
    kwargs: dict[str, Any] = dict(depth=depth, preemptions=preemptions, max_steps=max_steps,
                                  check_lockdep=check_lockdep)
    if jobs > 1 or ray_address:
        from .parallel import run_parallel

        found = run_parallel(body, strategy, schedules=schedules, seed=seed, jobs=jobs,
                             ray_address=ray_address, scenario_ref=scenario_ref, **kwargs)
    else:
        seeds = [execution_seed(seed, i) for i in range(schedules)]
        found = run_slice(body, strategy, seeds=seeds, limit=schedules if strategy
                          in DFS_LIKE else None, progress=progress, total=schedules, **kwargs)
    report = Report(name, strategy, schedules=found.schedules, distinct=len(found.digests),
                    pruned=found.pruned)
    report.guarantee = _guarantee(strategy, found, depth, preemptions)
    if found.failure_token:
        _fill_failure(report, body, found, shrink=shrink, max_steps=max_steps,
                      check_lockdep=check_lockdep)
    report.elapsed = time.perf_counter() - started
    return report


def _guarantee(strategy: str, found: Slice, depth: int, preemptions: int) -> str:
    if strategy == "pct":
        n, k = max(found.max_tasks, 1), max(found.max_steps_seen, 1)
        p = bound(n, k, depth)
        return (f"PCT n={n} tasks, k={k} steps, d={depth}: each schedule finds a depth-{depth} "
                f"bug with probability >= 1/(n*k^(d-1)) = {p:.3g}")
    if strategy in ("dfs", "dfs-plain"):
        if found.exhausted:
            return (f"DFS complete within {preemptions} preemptions: all {found.schedules} "
                    "such schedules explored")
        return f"DFS within {preemptions} preemptions stopped after {found.schedules} schedules " \
               "(not exhaustive: raise --schedules)"
    if strategy == "dpor":
        cut = f" ({found.pruned} redundant paths cut short)"
        if found.exhausted:
            return (f"DPOR complete within {preemptions} preemptions: every such schedule "
                    f"is equivalent to one of these {found.schedules}{cut}")
        return f"DPOR within {preemptions} preemptions stopped after {found.schedules} " \
               f"schedules{cut} (not exhaustive: raise --schedules)"
    return "random walk: no coverage guarantee"


def _fill_failure(report: Report, body: Callable[[], object], found: Slice, *, shrink: bool,
                  max_steps: int, check_lockdep: bool) -> None:
    from .shrink import shrink_token

    token = found.failure_token
    report.original_token = token
    report.found_at = found.found_at
    if shrink:
        token = shrink_token(body, token, found.failure_kind, max_steps=max_steps,
                             check_lockdep=check_lockdep)
    again = replay(body, token, max_steps=max_steps, check_lockdep=check_lockdep)
    if not again.failed:                # shrinking kept failing schedules only; be safe
        token = found.failure_token
        again = replay(body, token, max_steps=max_steps, check_lockdep=check_lockdep)
    for attr in ("failed", "kind", "message", "trace", "steps", "tasks", "stacks"):
        setattr(report, attr, getattr(again, attr))
    report.token = token


def replay(scenario: Any, token: str, *, max_steps: int | None = None,
           check_lockdep: bool = True) -> Report:
    """Run the one schedule ``token`` names; the same token always gives the same trace."""
    name, body, dflt = resolve(scenario)
    max_steps = max_steps if max_steps is not None else dflt.get("max_steps", 200_000)
    kind, fields_, rest = tokens.parse(token)
    strat: Any
    if kind == "random":
        strat = RandomStrategy([fields_["s"]])
    elif kind == "pct":
        strat = PctStrategy([fields_["s"]], depth=fields_.get("d", 3), k=fields_.get("k", 1000),
                            fixed_k=True)
    else:
        strat = ReplayStrategy(tokens.decode_choices(rest))
    strat.new_execution()
    started = time.perf_counter()
    ex, failure = run_schedule(body, strat, max_steps=max_steps, check_lockdep=check_lockdep)
    report = Report(name, kind, schedules=1, distinct=1, token=token,
                    elapsed=time.perf_counter() - started)
    report.trace = ex.trace_text()
    names = [t.name for t in ex.tasks]
    report.tasks = names
    report.steps = [(names[tid], k, ex.labels[n] if n >= 0 else "") for tid, k, n in ex.trace]
    if failure is not None:
        report.failed, report.kind, report.message = True, failure.kind, failure.message
        report.stacks = failure.stacks
        report.found_at = 1
    return report
