"""The GPU scene of ``softgem demo`` runs, narrates, draws its timeline and leaks nothing."""

from __future__ import annotations

import io
import xml.dom.minidom
from pathlib import Path

from rich.console import Console

import softgem
from softgem import trace
from softgem.cli import demo_gpu
from softgem.cli.demo import Narrator


def test_the_renderer_scene_shows_every_frame_with_one_eagain_retry(tmp_path: Path) -> None:
    out = io.StringIO()
    n = Narrator(Console(file=out, width=200), fast=True)
    machine = softgem.Machine()
    svg = tmp_path / "timeline.svg"
    demo_gpu.configure(str(svg))
    unsubscribe = trace.subscribe(n.on_event)
    try:
        for scene in demo_gpu.GPU_SCENES:
            scene(n, machine)
    finally:
        unsubscribe()
        demo_gpu.configure(None)
    machine.shutdown()
    assert machine.counters().leaks() == {}
    text = out.getvalue()
    for frame in range(demo_gpu.FRAMES):
        bar = "." * (frame * 10) + "#" * 8
        assert f"frame {frame}: screen |{bar}" in text
    for needle in ("1 EAGAIN retry", "invalidate obj", "-> EAGAIN", "signalled", "UNMAP"):
        assert needle in text
    doc = xml.dom.minidom.parse(str(svg))
    labels = [t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild]
    assert "EAGAIN" in labels and "inv" in labels and "f5" in labels
    assert len(doc.getElementsByTagName("rect")) == demo_gpu.FRAMES + 1     # one skipped


def test_the_timeline_uses_a_logical_clock() -> None:
    tl = demo_gpu.Timeline()
    tl.frame("frame 0 drawn")
    tl.on_event(trace.Event("gpu", "execbuf", {"engine": "bcs0", "seqno": 1, "error": 0}))
    tl.on_event(trace.Event("gpu", "request_start", {"engine": "bcs0", "seqno": 1}))
    tl.on_event(trace.Event("gpu", "request_retire", {"engine": "bcs0", "seqno": 1,
                                                      "error": 0, "skipped": False}))
    assert [m.t for m in tl.marks] == [1, 2, 5]
    assert tl.spans == [(3, 4, "bcs0#1")]
    assert demo_gpu.timeline_svg(tl).startswith("<svg")
