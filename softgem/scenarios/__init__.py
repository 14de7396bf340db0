"""softgem.scenarios: explorable scenarios (top layer: they drive a whole Machine).

``get(name)`` returns a registered :class:`Scenario`; ``SCENARIOS`` lists them once
:mod:`.catalog` is imported.  Planted-bug variants (``softgem.scenarios.planted``) prove the
explorer finds what it should.
"""

from __future__ import annotations

from .gem import ANON, RW, Gem
from .planted import BUGS as PLANTED_BUGS
from .registry import SCENARIOS, Scenario, get, scenario

__all__ = ["ANON", "PLANTED_BUGS", "RW", "SCENARIOS", "Gem", "Scenario", "all_scenarios", "get", "scenario"]


def all_scenarios() -> dict[str, Scenario]:
    from . import catalog  # noqa: F401

    return dict(SCENARIOS)
