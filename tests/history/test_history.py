"""The history rows (issue 11): each bug found on its design within its budget, its token
replays it, the fixed design is clean within the same budget; the CLI and the seam."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from softgem import Machine, explore
from softgem.cli.main import main
from softgem.gem.designs import design_names
from softgem.scenarios.history import BATCH_S, MUNMAP_LATENCY, ROWS, row_scenario
from softgem.scenarios.history_run import run_row


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.seed}-{r.design}-{r.scenario}" for r in ROWS])
def test_row_found_on_its_design_replayed_and_absent_from_the_fix(row: object) -> None:
    r = run_row(row)  # type: ignore[arg-type]
    assert r.found and r.kind == r.row.kind, f"{r.row.point}: got {r.kind or 'no failure'}"
    assert r.found_at <= r.row.budget
    assert r.replayed, f"token {r.token} did not reproduce the same failure"
    assert r.fixed_clean, f"fixed design {r.row.fixed} failed: {r.fixed_kind}"


def test_munmap_waits_for_the_batch_before_v6_8_only() -> None:
    MUNMAP_LATENCY.clear()
    for design in ("v5.13", "v5.14", "v6.8"):
        explore.explore(row_scenario("munmap-vs-long-batch", design), "pct", schedules=1)
    assert MUNMAP_LATENCY["v5.13"] == pytest.approx(BATCH_S)
    assert MUNMAP_LATENCY["v5.14"] == pytest.approx(BATCH_S)
    assert MUNMAP_LATENCY["v6.8"] == 0.0


def test_history_quick_prints_the_rows_and_writes_the_doc(tmp_path: object) -> None:
    doc = os.path.join(str(tmp_path), "history.md")
    res = CliRunner().invoke(main, ["history", "--quick", "--doc", doc])
    assert res.exit_code == 0, res.output
    assert "softgem history" in res.output and "rework-v4" in res.output
    with open(doc) as f:
        text = f.read()
    assert "1/(n k^(d-1))" in text and "not reproduced yet" in text
    assert "| rework-v4 | map-fixed-invalidate | pct |" in text
    assert "munmap-waits-for-gpu" in text and "v6.8: clean in" in text
    assert text.count("| 00") >= len(ROWS)


def test_unknown_design_is_valueerror_listing_the_names() -> None:
    with pytest.raises(ValueError, match=r"known: .*v5\.14.*v6\.8"):
        Machine(userptr_design="v2.6")
    assert {"v5.13", "v5.14", "v6.8", "rework-v4"} <= set(design_names())
    assert {"v3.16", "userptr-v16", "v3.17-rc", "v4.4"} <= set(design_names())


def test_host_core_backend_serves_the_design_it_is_given() -> None:
    from softgem.host.core import CoreBackend

    assert CoreBackend(memory=16 << 20, design="v5.13").dev.userptr_design.name == "v5.13"
    assert CoreBackend(memory=16 << 20).dev.userptr_design.name == "v6.8"


def test_run_refuses_an_unknown_design_before_starting_the_program() -> None:
    res = CliRunner().invoke(main, ["run", "--design", "v2.6", "--", "true"])
    assert res.exit_code == 2
    assert "unknown userptr design" in res.output


@pytest.mark.parametrize("design", ["v5.14", "v5.13"])
def test_shipped_scenarios_are_clean_on_the_older_designs(design: str) -> None:
    from softgem.scenarios import all_scenarios
    from softgem.scenarios.registry import Scenario

    for name, s in sorted(all_scenarios().items()):
        v = Scenario(f"{name}@{design}", s.fn, max_steps=s.max_steps,
                     machine_options={"userptr_design": design})
        r = explore.explore(v, "pct", schedules=4)
        assert not r.failed, f"{name} on {design}: {r.kind}: {r.message}\n{r.token}"


# What the shipped scenarios find in the 2014 designs by design (docs/history-2014.md): v4.4's
# window (fresh GPU work on the old pages until the cancel worker runs), v3.16's refusal of
# overlapping userptrs (EINVAL) and its exit_mmap under struct_mutex when a busy userptr
# outlives its process (ad46cb533d); every other shipped scenario is clean on both.
ERA_2014_EXPECTED = {
    "v4.4": {"map-fixed-invalidate": "assertion"},
    "v3.16": {"map-fixed-invalidate": "assertion",
              "stress-mm-invalidate-close-overlap": "exception",
              "process-exit-busy": "lockdep", "exit-with-gpu-work": "lockdep"},
}


@pytest.mark.parametrize("design", sorted(ERA_2014_EXPECTED))
def test_shipped_scenarios_on_the_2014_designs(design: str) -> None:
    from softgem.scenarios import all_scenarios
    from softgem.scenarios.registry import Scenario

    found = {}
    for name, s in sorted(all_scenarios().items()):
        v = Scenario(f"{name}@{design}", s.fn, max_steps=s.max_steps,
                     machine_options={"userptr_design": design})
        r = explore.explore(v, "pct", schedules=6, shrink=False)
        if r.failed:
            found[name] = r.kind
    assert found == ERA_2014_EXPECTED[design]
