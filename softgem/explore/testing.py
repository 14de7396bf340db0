"""Pytest helpers: assert that a scenario explores clean, or turn one into a test.

::

    from softgem import explore

    @explore.explored(strategy="pct", schedules=200)
    def test_two_threads_share_a_counter():
        ...                         # build state, explore.spawn(...) model threads, assert

    def test_by_hand():
        explore.assert_clean(my_scenario, strategy="dfs", preemptions=2)

A failure raises AssertionError with the report's summary, its replay token and the last
steps of the shrunk schedule, so the test output says how to reproduce it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .campaign import Report, explore

__all__ = ["assert_clean", "explored"]


def assert_clean(scenario: Any, **options: Any) -> Report:
    """Explore ``scenario`` (``explore()``'s options); AssertionError on a failure."""
    report = explore(scenario, **options)
    if report.failed:
        tail = "\n".join(f"  {task:>12} | {kind} {obj}" for task, kind, obj in report.steps[-25:])
        raise AssertionError(f"{report.summary()}\nlast steps of the shrunk schedule:\n{tail}\n"
                             f"replay with softgem.explore.replay(scenario, {report.token!r})")
    return report


def explored(**options: Any) -> Callable[[Callable[[], object]], Callable[[], None]]:
    """Decorator: the function is a scenario; the decorated test explores it."""
    def deco(fn: Callable[[], object]) -> Callable[[], None]:
        @functools.wraps(fn)
        def test() -> None:
            assert_clean(fn, **options)
        return test
    return deco
