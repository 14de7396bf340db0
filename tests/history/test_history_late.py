"""Seeds 003 and 004 beyond the rows themselves (the rows run in test_history.py): which
designs keep the fence of an -EAGAIN execbuf, and the errnos of the 2^32 + 1-page userptr."""

from __future__ import annotations

import errno

import pytest

from softgem import Machine, explore
from softgem.scenarios.history import ROWS, row_scenario
from softgem.scenarios.history_late import (
    HUGE_PAGES,
    ROWS_LATE,
    huge_userptr_errno,
    huge_userptr_relocation,
)


def test_the_late_rows_are_history_rows() -> None:
    assert all(r in ROWS for r in ROWS_LATE)
    assert {r.kind for r in ROWS_LATE} == {"submit-init-waits-for-skipped-fence",
                                           "sg-table-overflow"}


@pytest.mark.parametrize("design", ["v5.13", "v6.8"])
def test_every_merged_design_keeps_the_fence_of_an_eagain_execbuf(design: str) -> None:
    r = explore.explore(row_scenario("eagain-retry-behind-long-batch", design), "pct",
                        schedules=60)
    assert r.failed and r.kind == "submit-init-waits-for-skipped-fence", r.kind


def _exit_and_leaks(m: Machine) -> dict[str, int]:
    for p in list(m.processes()):
        p.exit(0)
    leaks: dict[str, int] = m.counters().leaks()
    return leaks


def test_v6_8_answers_e2big_for_the_truncated_count_and_leaks_nothing() -> None:
    m = Machine(userptr_design="v6.8")
    huge_userptr_relocation(m)          # asserts E2BIG (or an overflow) itself
    assert _exit_and_leaks(m) == {}


def test_v5_14_looks_past_the_short_table() -> None:
    from softgem.errors import SimBug

    m = Machine(userptr_design="v5.14")
    with pytest.raises(SimBug, match=r"page 1 looked up past the 1 entries"):
        huge_userptr_relocation(m)


@pytest.mark.parametrize("design", ["v5.14", "v6.8"])
def test_through_the_whole_uapi_the_vector_allocation_fails_first(design: str) -> None:
    m = Machine(userptr_design=design)
    assert huge_userptr_errno(m) == -errno.ENOMEM
    assert HUGE_PAGES * 8 > (1 << 31) - 1           # the kvmalloc INT_MAX limit (v5.15+)
    assert _exit_and_leaks(m) == {}


@pytest.mark.parametrize("design", ["rework-v4", "v6.8"])
def test_waiting_for_the_fence_of_a_batch_that_ran_is_not_reported(design: str) -> None:
    """On v6.8 the second submit_init does block on the first batch's fence holding the
    object lock (MAP_FIXED did not wait): the right fence, so no report; before v6.8 the
    MAP_FIXED itself waited for it."""
    from softgem.scenarios.history_late import retry_after_a_batch_that_ran
    from softgem.scenarios.registry import Scenario

    s = Scenario(f"ran@{design}", retry_after_a_batch_that_ran,
                 machine_options={"userptr_design": design})
    r = explore.explore(s, "pct", schedules=5)
    assert not r.failed, f"{r.kind}: {r.message}"


def test_the_fixed_design_leaves_no_fence_of_the_skipped_request() -> None:
    """Through the checker's eyes too: on v5.13-nofence the same schedule that fails
    rework-v4 is clean, and the retry never blocked on a fence while holding the object."""
    bad = explore.explore(row_scenario("eagain-retry-behind-long-batch", "rework-v4"), "pct",
                          schedules=60)
    assert bad.failed
    fixed = explore.replay(row_scenario("eagain-retry-behind-long-batch", "v5.13-nofence"),
                           bad.token)
    assert not fixed.failed, fixed.message
