"""How big a tree search will be, before running it: Knuth's estimator (Math. Comp. 1975).

A *probe* walks one random path of the tree the search would enumerate (``dfs``,
``dfs-plain`` or ``dpor`` within ``K`` preemptions): at each choice it draws one of the
options the search would try there and multiplies the inverse probabilities of its draws.
That product, averaged over probes, is an unbiased estimate of the number of complete
schedules (a path ``dpor`` would cut short counts 0; with
those paths, the mean estimates the executions the search will run, its cost).  Uniform draws
(Knuth's own) spend the preemptions in the first few choices and leave the estimate to rare
paths; the draw instead follows the sizes the subtrees would have if every choice were a
preemption point: continuing at a choice with ``r`` choices left and ``b`` preemptions left
against preempting, ``r`` to ``b`` (``C(r, b)`` against ``C(r, b - 1)``).  Its spread can be wide
on lopsided trees, so the standard error of the mean is reported with it; a few hundred
probes cost a few hundred schedules.  ``softgem explore NAME --strategy dpor --estimate``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from .campaign import make_strategy, resolve, run_schedule

__all__ = ["Estimate", "estimate"]

TREES = ("dfs", "dfs-plain", "dpor")


@dataclass
class Estimate:
    scenario: str
    strategy: str
    preemptions: int
    probes: int
    schedules: float            # estimated complete schedules of the whole search
    stderr: float               # standard error of that mean
    executions: float = 0.0     # dpor: with the executions it cuts short (the run's cost)

    def summary(self) -> str:
        runs = (f", in about {self.executions:,.0f} executions with those it cuts short"
                if self.executions > self.schedules else "")
        return (f"{self.scenario}: {self.strategy} within {self.preemptions} preemptions: "
                f"about {self.schedules:,.0f} schedules (standard error {self.stderr:,.0f}, "
                f"Knuth's estimator over {self.probes} random paths){runs}")


def _probe_class(base: type) -> type:
    class Probe(base):  # type: ignore[misc]
        """The search's own choice rules; one random path per execution."""

        def setup(self, rng: random.Random, probes: int, depth: int) -> None:
            self.rng, self.left, self.weight, self.depth = rng, probes, 1.0, depth

        def new_execution(self) -> bool:
            if self.left <= 0:
                return False
            self.left -= 1
            self._levels: list[Any] = []
            self._started, self.weight = False, 1.0
            ok: bool = super().new_execution()
            return ok

        def first_index(self, options: list[int], has_current: bool, used: int) -> int:
            n = len(options)
            left = self.bound - used
            if not has_current or left <= 0 or n == 1:
                self.weight *= n
                return self.rng.randrange(n)
            # importance sampling: continuing leads to a subtree about ``rest / left`` times
            # the size of one that spends a preemption here (C(rest, left) against
            # C(rest, left - 1)), so the draw follows those odds; weight = 1 / probability
            rest = max(1, self.depth - self._depth)
            total = rest + (n - 1) * left
            pick = self.rng.randrange(total)
            if pick < rest:
                self.weight *= total / rest
                return 0
            self.weight *= total / left
            return int(1 + (pick - rest) // left)

    return Probe


def estimate(scenario: Any, strategy: str = "dpor", *, preemptions: int | None = None,
             probes: int = 200, seed: int = 0, max_steps: int | None = None) -> Estimate:
    """Estimate the number of schedules ``explore(scenario, strategy)`` would run."""
    if strategy not in TREES:
        raise ValueError(f"an estimate is for a tree search ({', '.join(TREES)}), "
                         f"not {strategy!r}")
    if probes < 2:
        raise ValueError("an estimate needs at least 2 probes")
    name, body, dflt = resolve(scenario)
    k = preemptions if preemptions is not None else dflt.get("preemptions", 2)
    steps = max_steps if max_steps is not None else dflt.get("max_steps", 200_000)
    base = make_strategy(strategy, seeds=[], depth=3, preemptions=k)
    probe = _probe_class(type(base))(**_init_args(strategy, k))
    base.new_execution()
    ex, _ = run_schedule(body, base, max_steps=steps, check_lockdep=False)
    probe.setup(random.Random(seed), probes, len(ex.choices))    # the default path's depth
    done: list[float] = []
    runs: list[float] = []
    while probe.new_execution():
        ex, failure = run_schedule(body, probe, max_steps=steps, check_lockdep=False)
        probe.finish(ex)
        pruned = failure is not None and failure.kind == "pruned"
        done.append(0.0 if pruned else float(probe.weight))
        runs.append(float(probe.weight))
    mean = sum(done) / len(done)
    var = sum((x - mean) ** 2 for x in done) / (len(done) - 1)
    return Estimate(name, strategy, k, len(done), mean, math.sqrt(var / len(done)),
                    sum(runs) / len(runs))


def _init_args(strategy: str, k: int) -> dict[str, Any]:
    if strategy == "dfs-plain":
        return {"preemptions": k, "reduce": False}
    return {"preemptions": k}
