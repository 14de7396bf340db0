"""The host-mmap benchmark runs and reports both sides (its ratio is judged by `softgem bench`,
never by a test: the machine is shared)."""

from __future__ import annotations

from softgem.bench.host_mmap import bench_host_mmap


def test_host_mmap_bench_measures_both_sides() -> None:
    result = bench_host_mmap(quick=True)
    names = [name for name, _ in result.rows]
    assert "anonymous memory" in names and "WB mapping of a GEM object" in names
    assert [r[0] for r in result.ratios] == ["gem/anon"] and result.ratios[0][1] > 0
