"""The scenario registry: ``@scenario("name", preemptions=2, pct_schedules=10000, pct_depth=3)``.

A scenario is a plain function of a fresh :class:`softgem.Machine` that starts model threads
with :func:`softgem.explore.spawn` and may assert.  :class:`Scenario.body` is what the
explorer runs as the first task of each schedule: build the machine (with the scenario's
checkers attached), run the function, join its threads, shut the machine down, then check
that nothing leaked.  The bounds are the ones the scenario is claimed clean within
(``softgem explore NAME`` uses them by default; CI runs smaller ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import explore
from ..machine import Machine
from .checks import attach_checkers

__all__ = ["SCENARIOS", "Scenario", "get", "scenario"]


@dataclass
class Scenario:
    name: str
    fn: Callable[[Machine], object]
    preemptions: int = 2
    pct_schedules: int = 10_000
    pct_depth: int = 3
    max_steps: int = 200_000
    doc: str = ""
    machine_options: dict[str, Any] = field(default_factory=dict)
    userptr_ops: Any = None         # a UserptrDesign for the device (planted bugs, history rows)

    def make_machine(self) -> Machine:
        m = Machine(memory=64 << 20, **self.machine_options)
        if self.userptr_ops is not None:
            m.device.userptr_design = self.userptr_ops
        return m

    def body(self) -> None:
        m = self.make_machine()
        attach_checkers(m)
        self.fn(m)
        explore.join_all()
        m.shutdown()
        finish = getattr(m.device.userptr_design, "finish", None)
        if finish is not None:
            finish()
        leaks = m.counters().leaks()
        if leaks:
            explore.fail("leak", f"leaked at the end of {self.name}: {leaks}")

    def variant(self, name: str, userptr_ops: Any) -> Scenario:
        return Scenario(name, self.fn, self.preemptions, self.pct_schedules, self.pct_depth,
                        self.max_steps, self.doc, dict(self.machine_options), userptr_ops)


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, *, preemptions: int = 2, pct_schedules: int = 10_000,
             pct_depth: int = 3, max_steps: int = 200_000
             ) -> Callable[[Callable[[Machine], object]], Callable[[Machine], object]]:
    def deco(fn: Callable[[Machine], object]) -> Callable[[Machine], object]:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        SCENARIOS[name] = Scenario(name, fn, preemptions, pct_schedules, pct_depth, max_steps,
                                   doc[0] if doc else "")
        return fn
    return deco


def get(name: str) -> Scenario:
    from . import catalog  # noqa: F401  (registers the shipped scenarios)

    base, plus, bug = name.partition("+")
    if plus:                        # "SCENARIO+BUG": the scenario over a planted-bug copy
        from .planted import PlantedUserptr

        return get(base).variant(name, PlantedUserptr(bug))
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") \
            from None
