"""The impact benchmark runs in quick mode and returns a well-formed result.

Timing is noisy, so the ratio targets are not asserted here; `softgem bench impact` does.
"""

from __future__ import annotations

import math

from softgem.bench.impact import bench_impact
from softgem.sync import lockdep


def test_quick_impact_run_reports_rates_and_both_ratios() -> None:
    # Lockdep (on for every test) records each of the 200k registrations' lock traffic and
    # would make this a minute-long test; the benchmark checks speed, not lock order.
    lockdep.disable()
    result = bench_impact(quick=True)
    names = [name for name, _, _, _ in result.ratios]
    assert names == ["no-overlap 100k/0", "overlap-16 100k/0"]
    for _, value, target, direction in result.ratios:
        assert math.isfinite(value) and value > 0
        assert (target, direction) == (0.8, ">=")
    rows = dict(result.rows)
    assert "N=0 (no subscriptions): mmap+munmap pairs/s" in rows
    for variant in ("no-overlap", "overlap-16"):
        assert f"{variant} N=100000: mmap+munmap pairs/s" in rows
        assert float(rows[f"{variant} N=100000: interval-index miss query (us)"]) > 0
