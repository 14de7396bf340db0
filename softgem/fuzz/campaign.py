"""A fuzzing campaign: runs of random calls against fresh worlds, for a time budget.

Each *run* builds a world from a seed drawn from the campaign's seed, issues 1-40 calls
(:func:`.calls.draw_call`) and checks the world (:func:`.world.check_world`).  A failure is
any exception other than an ``OSError`` with an errno out of an ioctl, or a failed check.
A failing run is shrunk -- calls are dropped while the failure stays the same kind -- and
kept with a reproducer: a Python snippet that rebuilds the world and replays the calls
(:func:`replay`), raising what the campaign saw.
"""

from __future__ import annotations

import errno as errno_mod
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .calls import Call, apply, draw_call
from .world import build_world, check_world, release_world

__all__ = ["Failure", "Report", "replay", "reproducer", "run_campaign"]

SHRINK_SECONDS = 20.0


@dataclass
class Failure:
    seed: int
    calls: list[Call]
    error: str

    @property
    def kind(self) -> str:
        return self.error.split(":", 1)[0]


@dataclass
class Report:
    seed: int
    runs: int = 0
    ioctls: int = 0
    errnos: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0


def errno_name(code: int) -> str:
    return "OK" if code == 0 else errno_mod.errorcode.get(code, str(code))


def replay(seed: int, calls: Sequence[Call], count: Callable[[int], None] | None = None) -> None:
    """Build the world of ``seed``, issue ``calls`` in order, check it: raises on failure."""
    w = build_world(seed)
    try:
        for call in calls:
            code = apply(w, call)
            if count is not None:
                count(code)
    except BaseException:
        release_world(w)
        raise
    check_world(w)


def _outcome(seed: int, calls: Sequence[Call],
             count: Callable[[int], None] | None = None) -> str | None:
    try:
        replay(seed, calls, count)
    except Exception as exc:      # what the campaign is looking for
        return f"{type(exc).__name__}: {exc}"
    return None


def _shrink(failure: Failure, deadline: float) -> Failure:
    calls = list(failure.calls)
    i = len(calls) - 1
    while i >= 0 and time.monotonic() < deadline:
        trial = calls[:i] + calls[i + 1:]
        got = _outcome(failure.seed, trial)
        if got is not None and got.split(":", 1)[0] == failure.kind:
            calls, failure = trial, Failure(failure.seed, trial, got)
        i -= 1
    return failure


def reproducer(failure: Failure) -> str:
    """A Python snippet that replays ``failure`` (it raises what the campaign saw)."""
    lines = ["from softgem.fuzz import Call, replay", "", "calls = ["]
    lines += [f"    {call!r}," for call in failure.calls]
    lines += ["]", f"replay({failure.seed}, calls)   # {failure.error[:200]}"]
    return "\n".join(lines)


def run_campaign(seconds: float, seed: int = 0, *,
                 progress: Callable[[float], None] | None = None,
                 max_failures: int = 5) -> Report:
    """Fuzz for ``seconds`` (at least one run); ``progress`` gets the elapsed fraction."""
    rng = random.Random(seed)
    report = Report(seed)
    start = time.monotonic()
    end = start + seconds

    def count(code: int) -> None:
        report.ioctls += 1
        report.errnos[errno_name(code)] += 1

    while True:
        run_seed = rng.getrandbits(32)
        run_rng = random.Random(run_seed)
        w = build_world(run_seed)
        calls = [draw_call(run_rng, w) for _ in range(run_rng.randint(1, 40))]
        release_world(w)
        error = _outcome(run_seed, calls, count)
        report.runs += 1
        if error is not None:
            failure = _shrink(Failure(run_seed, calls, error),
                              time.monotonic() + SHRINK_SECONDS)
            report.failures.append(failure)
        now = time.monotonic()
        if progress is not None:
            progress(min(1.0, (now - start) / seconds) if seconds > 0 else 1.0)
        if now >= end or len(report.failures) >= max_failures:
            break
    report.seconds = time.monotonic() - start
    return report
