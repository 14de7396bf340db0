"""Shrinking a failing schedule: fewer deviations from the default rule, so fewer preemptions.

Any failing token is first turned into its choice list (the deviations its execution made
from "keep running the current task, else the lowest-numbered runnable one").  Then, greedily,
each deviation is dropped if the schedule without it still fails with the same kind; then the
steps after the failure no longer matter, so the list is also cut at the first prefix that
still fails.  The result is a ``replay:`` token whose schedule has at most the original's
preemptions, usually far fewer, and reads as a short story.
"""

from __future__ import annotations

from collections.abc import Callable

from . import tokens
from .pct import PctStrategy
from .random import RandomStrategy
from .replay import ReplayStrategy
from .runtime import Execution

__all__ = ["shrink_token"]

MAX_ATTEMPTS = 200


def _deviations_of(body: Callable[[], object], token: str, max_steps: int,
                   check_lockdep: bool) -> list[tuple[int, int]] | None:
    from .campaign import run_schedule

    kind, fields, rest = tokens.parse(token)
    if kind in ("dfs", "dpor", "replay"):
        return tokens.decode_choices(rest)
    strat: RandomStrategy | PctStrategy
    if kind == "random":
        strat = RandomStrategy([fields["s"]])
    else:
        strat = PctStrategy([fields["s"]], depth=fields.get("d", 3), k=fields.get("k", 1000),
                            fixed_k=True)
    strat.new_execution()
    ex, failure = run_schedule(body, strat, max_steps=max_steps, check_lockdep=check_lockdep)
    return ex.deviations if failure is not None else None


def _fails(body: Callable[[], object], devs: list[tuple[int, int]], kind: str, max_steps: int,
           check_lockdep: bool) -> Execution | None:
    from .campaign import run_schedule

    strat = ReplayStrategy(devs)
    strat.new_execution()
    ex, failure = run_schedule(body, strat, max_steps=max_steps, check_lockdep=check_lockdep)
    return ex if failure is not None and failure.kind == kind else None


def shrink_token(body: Callable[[], object], token: str, kind: str, *, max_steps: int = 200_000,
                 check_lockdep: bool = True) -> str:
    devs = _deviations_of(body, token, max_steps, check_lockdep)
    if devs is None:
        return token
    ex = _fails(body, devs, kind, max_steps, check_lockdep)
    if ex is None:
        return token            # not reproducible as a choice list (should not happen)
    devs = ex.deviations        # normalised: exactly the deviations that execution made
    attempts = 0
    i = 0
    while i < len(devs) and attempts < MAX_ATTEMPTS:
        trial = devs[:i] + devs[i + 1:]
        attempts += 1
        got = _fails(body, trial, kind, max_steps, check_lockdep)
        if got is not None:
            devs = got.deviations[:len(trial)] if len(got.deviations) <= len(trial) else trial
        else:
            i += 1
    return f"replay:{tokens.encode_choices(devs)}"
