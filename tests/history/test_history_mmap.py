"""The mmap_offset history rows' other half: the shipped explorer scenarios that map GEM
objects stay clean on mmap-v1 (its bugs need the rows' races), and the rows name the seam."""

from __future__ import annotations

import pytest

from softgem import explore
from softgem.scenarios import all_scenarios
from softgem.scenarios.history import ROWS
from softgem.scenarios.history_mmap import ROWS_MMAP
from softgem.scenarios.registry import Scenario


def test_the_mmap_rows_are_in_the_history_and_name_the_mmap_seam() -> None:
    assert all(r in ROWS for r in ROWS_MMAP)
    assert {r.point for r in ROWS_MMAP} == {"review: mmap vs gem_close",
                                            "review: revoke on reset",
                                            "review: revoke on reset (vs GEM_CLOSE)"}
    assert all(r.seam == "mmap" and r.design == "mmap-v1" for r in ROWS_MMAP)


@pytest.mark.parametrize("name", ["mmap-offset-close-race"])
def test_shipped_mapping_scenarios_are_clean_on_mmap_v1(name: str) -> None:
    s = all_scenarios()[name]
    v = Scenario(f"{name}@mmap-v1", s.fn, max_steps=s.max_steps,
                 machine_options={"mmap_design": "mmap-v1"})
    r = explore.explore(v, "pct", schedules=20)
    assert not r.failed, f"{name} on mmap-v1: {r.kind}: {r.message}\n{r.token}"
