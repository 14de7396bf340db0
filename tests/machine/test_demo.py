"""``softgem demo`` (the main job) runs to the end with nothing leaked."""

from __future__ import annotations

import io

from rich.console import Console

from softgem.cli.demo import run_demo


def test_demo_runs_every_scene_and_reports_no_leak() -> None:
    out = io.StringIO()
    status = run_demo(fast=True, console=Console(file=out, width=200))
    text = out.getvalue()
    assert status == 0, text
    for needle in ("PROTECTION_PAGE", "event=CLEAR", "event=UNMAP", "EFAULT", "0 (valid)",
                   "read through GTT: b'written through WB'", "back to 0"):
        assert needle in text
