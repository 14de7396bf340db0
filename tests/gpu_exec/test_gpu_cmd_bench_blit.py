"""``softgem bench blit``: the setup copies the right bytes and leaks nothing (no timing)."""

from __future__ import annotations

import pytest

from softgem.bench.blit import _measure
from softgem.bench.runner import BENCHMARKS


@pytest.mark.parametrize("scatter", [False, True])
def test_the_blit_bench_copies_the_buffer_and_leaks_nothing(scatter: bool) -> None:
    rates, nruns, ok, leaks = _measure(1 << 20, 1, scatter)
    assert ok and leaks == {}
    assert set(rates) == {"gpu", "numpy", "numpy-pages"}
    assert (nruns > 1) == scatter


def test_the_runner_knows_the_blit_bench() -> None:
    assert BENCHMARKS["blit"] == ("softgem.bench.blit", "bench_blit")
