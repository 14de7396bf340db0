"""One row of the history table (issue 11): a bug, the design that had it, the one that
fixed it, and the scenario that shows it (:mod:`softgem.scenarios.history`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HistoryRow"]


@dataclass(frozen=True)
class HistoryRow:
    seed: str
    point: str               # the commit id or the seed's review point
    design: str              # the design that had the bug
    fixed: str               # the design that fixed it
    scenario: str
    strategy: str
    budget: int              # schedules within which the bug is found (and fixed is clean)
    kind: str                # the checker verdict expected on ``design``
    depth: int               # the bug's depth (ordering constraints + 1) for PCT's bound
    what: str
