"""``softgem explore --design NAME``: a catalog scenario on a chosen userptr design."""

from __future__ import annotations

import re

from click.testing import CliRunner

from softgem.cli.explore_cmd import get
from softgem.cli.main import main


def test_explore_on_a_design_finds_its_bug_and_the_replay_hint_names_the_design() -> None:
    run = CliRunner(env={"COLUMNS": "400"}).invoke
    res = run(main, ["explore", "map-fixed-invalidate", "--design", "rework-v4",
                     "--schedules", "60"])
    assert res.exit_code == 1, res.output
    assert "map-fixed-invalidate@rework-v4" in res.output
    m = re.search(r"replay: softgem explore map-fixed-invalidate --design rework-v4 "
                  r"--replay (\S+)", res.output)
    assert m, res.output
    again = run(main, ["explore", "map-fixed-invalidate", "--design", "rework-v4",
                       "--replay", m.group(1)])
    assert again.exit_code == 1 and "assertion" in again.output, again.output
    fixed = run(main, ["explore", "map-fixed-invalidate", "--design", "v5.13",
                       "--replay", m.group(1)])
    assert fixed.exit_code == 0, fixed.output


def test_unknown_design_is_a_clean_error_listing_the_names() -> None:
    res = CliRunner(env={"COLUMNS": "400"}).invoke(main, ["explore", "map-fixed-invalidate",
                                                        "--design", "v2.6"])
    assert res.exit_code == 2
    assert "unknown userptr design 'v2.6'" in res.output
    assert "v5.14" in res.output and "rework-v4" in res.output
    assert "Traceback" not in res.output


def test_planted_bugs_take_no_design_and_the_list_names_the_designs() -> None:
    run = CliRunner(env={"COLUMNS": "400"}).invoke
    res = run(main, ["explore", "map-fixed-invalidate+no-read-retry", "--design", "v5.14"])
    assert res.exit_code == 2 and "no --design" in res.output, res.output
    listing = run(main, ["explore"])
    assert "userptr designs (explore --design NAME):" in listing.output


def test_workers_resolve_a_scenario_on_a_design_by_name() -> None:
    s = get("munmap-vs-execbuf@v5.13")
    assert s.name == "munmap-vs-execbuf@v5.13"
    assert s.make_machine().device.userptr_design.name == "v5.13"
