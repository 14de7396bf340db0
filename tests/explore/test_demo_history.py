"""``softgem demo --history``: the submit_done loop bug of rework-v4 beside v5.13, as the
explorer's column view and as an SVG picture naming both designs."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

from click.testing import CliRunner

from softgem.cli.main import main


def test_demo_history_shows_the_bug_beside_its_fix_and_writes_the_svg(tmp_path: object) -> None:
    svg = os.path.join(str(tmp_path), "history.svg")
    res = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["demo", "--history", "--svg", svg])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "map-fixed-invalidate on rework-v4: assertion" in out
    assert "map-fixed-invalidate on v5.13: clean" in out
    assert "GPU write went to the old page" in out
    assert "collision" in out and "ret=-11" in out        # v5.13 sees it: -EAGAIN, retried
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "rework-v4: assertion" in texts and "v5.13: clean" in texts
    assert "execbuf" in texts and "map-fixed" in texts      # one lane per task
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) >= 10


def test_svg_without_history_is_a_usage_error() -> None:
    res = CliRunner().invoke(main, ["demo", "--svg", "x.svg"])
    assert res.exit_code == 2 and "--svg goes with --history" in res.output
