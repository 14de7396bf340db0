"""Knuth's estimator of a tree search's size (softgem.explore.estimate)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner
from test_explore_dpor import abba_maybe, outcomes, three_locks

from softgem import explore
from softgem.cli.main import main as cli


@pytest.mark.parametrize("body", [three_locks, abba_maybe])
@pytest.mark.parametrize("strategy", ["dfs-plain", "dpor"])
def test_the_estimate_is_near_the_size_the_search_then_has(body: Callable[[], None],
                                                            strategy: str) -> None:
    _, runs, pruned = outcomes(body, strategy, 2)
    exact = runs - pruned
    est = explore.estimate(body, strategy, preemptions=2, probes=500, seed=0)
    assert est.probes == 500 and est.stderr > 0 and est.executions >= est.schedules
    assert abs(est.schedules - exact) <= max(4 * est.stderr, 0.25 * exact), (est, exact)


def test_the_same_seed_gives_the_same_estimate() -> None:
    one = explore.estimate(three_locks, "dpor", preemptions=1, probes=50, seed=7)
    two = explore.estimate(three_locks, "dpor", preemptions=1, probes=50, seed=7)
    assert one == two


def test_an_estimate_is_for_tree_searches_only() -> None:
    with pytest.raises(ValueError, match="tree search"):
        explore.estimate(three_locks, "pct")
    with pytest.raises(ValueError, match="2 probes"):
        explore.estimate(three_locks, "dpor", probes=1)


def test_cli_prints_the_estimate_and_refuses_a_seeded_strategy() -> None:
    r = CliRunner().invoke(cli, ["explore", "stress-mm-invalidate-close", "--strategy", "dpor",
                                 "--preemptions", "2", "--estimate", "--schedules", "40"])
    assert r.exit_code == 0, r.output
    assert "about" in r.output and "40 random paths" in r.output
    r = CliRunner().invoke(cli, ["explore", "stress-mm", "--estimate"])
    assert r.exit_code == 2 and "tree search" in r.output
