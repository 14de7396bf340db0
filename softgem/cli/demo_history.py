"""``softgem demo --history``: one bug of the userptr history happening, beside its fix.

The bug is the submit_done loop of the rework as posted (seed 003: "Aren't we missing index 0
here?"): ``map-fixed-invalidate`` on ``rework-v4``.  The explorer searches the schedule that
shows it (PCT, the history row's budget); that schedule's token is then replayed on the
design that fixed it (``v5.13``), and both runs are shown as the explorer's column view (one
column per task, one row per event the kernel traced: pins, invalidations, execbufs, GPU
requests) and, with ``--svg PATH``, as one SVG picture: the two interleavings side by side,
one lane per task.  Nothing is scripted: every row comes from ``softgem.trace`` as the two
runs happen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from .. import explore, trace
from ..explore import Report
from ..scenarios import history
from .explore_cmd import interleaving_table

__all__ = ["BUGGY", "FIXED", "SCENARIO", "Run", "history_runs", "history_svg", "run_history"]

SCENARIO, BUGGY, FIXED, BUDGET = "map-fixed-invalidate", "rework-v4", "v5.13", 60
_SHOWN = {("userptr", "pinned"), ("userptr", "invalidate"), ("userptr", "collision"),
          ("userptr", "unpin"), ("gpu", "execbuf"), ("gpu", "request_start"),
          ("gpu", "request_retire"), ("mm", "mmap"), ("uapi", "ioctl")}
_FIELDS = ("obj", "seq", "npages", "seqno", "error", "skipped", "ret")
_MAP_FIXED = 0x10
_COLOURS = {"userptr": "#d4a017", "gpu": "#d62728", "mm": "#1f77b4", "uapi": "#2ca02c"}


@dataclass
class Run:
    """One replayed schedule: its report and the traced events, in order."""

    design: str
    report: Report
    events: list[tuple[str, str, str]] = field(default_factory=list)   # task, category, text

    @property
    def verdict(self) -> str:
        r = self.report
        return f"{r.kind}: {r.message}" if r.failed else "clean: the write reached the new page"


def _text(ev: trace.Event) -> str:
    shown = [f"{k}={ev.fields[k]}" for k in _FIELDS if k in ev.fields]
    if ev.category == "mm":
        return f"mmap MAP_FIXED {ev.fields.get('addr', 0):#x}"
    name = str(ev.fields.get("name", "")) if ev.category == "uapi" else ev.name
    return " ".join([name.removeprefix("I915_GEM_"), *shown])


def _shown(ev: trace.Event) -> bool:
    if (ev.category, ev.name) not in _SHOWN:
        return False
    if ev.category == "mm":
        return bool(int(ev.fields.get("flags", 0)) & _MAP_FIXED)
    if ev.category == "uapi":
        return str(ev.fields.get("name", "")).startswith("I915_GEM_EXECBUFFER2")
    return True


def _replay(design: str, token: str) -> Run:
    events: list[tuple[str, str, str]] = []

    def on_event(ev: trace.Event) -> None:
        if not _shown(ev):
            return
        cur = explore.current_execution().current
        events.append((cur.name if cur is not None else "?", ev.category, _text(ev)))

    unsubscribe = trace.subscribe(on_event)
    try:
        report = explore.replay(history.row_scenario(SCENARIO, design), token)
    finally:
        unsubscribe()
    return Run(design, report, events)


def history_runs() -> tuple[Run, Run]:
    """The bug's schedule on the buggy design, and the same token on the fixed one."""
    found = explore.explore(history.row_scenario(SCENARIO, BUGGY), "pct", schedules=BUDGET)
    if not found.failed:
        raise RuntimeError(f"{SCENARIO} on {BUGGY}: no failure within {BUDGET} schedules")
    return _replay(BUGGY, found.token), _replay(FIXED, found.token)


def _column_view(run: Run) -> Table:
    """The explorer's column view (``interleaving_table``) over the run's traced events."""
    steps = [(t, cat, text) for t, cat, text in run.events]
    tasks = [t for t in run.report.tasks if any(s[0] == t for s in steps)]
    view = dataclasses.replace(run.report, steps=steps, tasks=tasks,
                               scenario=f"{SCENARIO} on {run.design}",
                               kind=run.report.kind or "clean")
    return interleaving_table(view, last=len(steps))


#: Terminal columns from which the two interleavings are shown side by side.
SIDE_BY_SIDE_WIDTH = 150


def run_history(console: Console, svg: str | None = None) -> int:
    """Show the two runs; 0 when the bug shows on the buggy design and not on the fix."""
    console.rule("[bold]History: seed 003, the submit_done loop of the rework as posted")
    console.print(
        f"rework-v4 checks execbuf's objects with [italic]for (i = count - 1; i; i--)[/]: "
        f"object 0 is never re-checked.  A MAP_FIXED over the userptr between its pin and "
        f"the final check goes unseen there, and the GPU writes the old page.  The same "
        f"schedule on {FIXED} (the loop from 0, merged) answers -EAGAIN and the retry "
        f"writes the new page.")
    buggy, fixed = history_runs()
    if console.width >= SIDE_BY_SIDE_WIDTH:
        grid = Table.grid(padding=(0, 2))
        grid.add_column()
        grid.add_column()
        grid.add_row(_column_view(buggy), _column_view(fixed))
        console.print(grid)
    else:                       # a narrow terminal: one above the other, each readable
        console.print(_column_view(buggy))
        console.print(_column_view(fixed))
    for run in (buggy, fixed):
        style = "bold red" if run.report.failed else "bold green"
        console.print(f"{run.design}: {run.verdict}", style=style, markup=False)
    console.print(f"replay: softgem explore {SCENARIO} --design {BUGGY} --replay "
                  f"{buggy.report.token}  (and --design {FIXED})", markup=False)
    if svg is not None:
        with open(svg, "w") as f:
            f.write(history_svg(buggy, fixed))
        console.print(f"wrote {svg}", markup=False)
    return 0 if buggy.report.failed and not fixed.report.failed else 1


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _panel(run: Run, x0: int, top: int, step: int, lane_h: int, left: int) -> tuple[list[str],
                                                                                   int]:
    tasks = [t for t in run.report.tasks if any(e[0] == t for e in run.events)]
    y_of = {t: top + 40 + i * lane_h for i, t in enumerate(tasks)}
    width = max(left + step * (len(run.events) + 1), 300)
    colour = "#d62728" if run.report.failed else "#2ca02c"
    out = [f'<text x="{x0}" y="{top}" font-size="13" fill="{colour}">{_esc(run.design)}: '
           f'{_esc(run.report.kind or "clean")}</text>',
           f'<text x="{x0}" y="{top + 16}" font-size="10">'
           f'{_esc(run.verdict[:max(20, width // 6)])}</text>']
    for t, y in y_of.items():
        out.append(f'<text x="{x0}" y="{y + 4}">{_esc(t)}</text>')
        out.append(f'<line x1="{x0 + left}" y1="{y}" x2="{x0 + width}" y2="{y}" '
                   'stroke="#ddd"/>')
    for i, (t, cat, text) in enumerate(run.events):
        x, y = x0 + left + (i + 1) * step, y_of[t]
        out.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{_COLOURS[cat]}">'
                   f'<title>{_esc(t)}: {_esc(text)}</title></circle>')
        out.append(f'<text x="{x - 3}" y="{y + 12 + 10 * (i % 2)}" font-size="8" '
                   f'fill="{_COLOURS[cat]}">{_esc(text.split()[0])}</text>')
    return out, width


def history_svg(buggy: Run, fixed: Run) -> str:
    """Both interleavings side by side as one SVG document, one lane per task."""
    step, lane_h, left, top, gap = 44, 46, 110, 50, 40
    lanes = max(len({e[0] for e in r.events}) for r in (buggy, fixed))
    left_svg, w1 = _panel(buggy, 10, top, step, lane_h, left)
    right_svg, w2 = _panel(fixed, 10 + w1 + gap, top, step, lane_h, left)
    title = (f"softgem demo --history: {SCENARIO}, the same schedule (token "
             f"{buggy.report.token}) on {BUGGY} and {FIXED}")
    width = max(10 + w1 + gap + w2 + 20, 20 + 9 * len(title))
    height = top + 40 + lanes * lane_h + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="monospace" font-size="11">',
           f'<text x="10" y="20" font-size="14">{_esc(title)}</text>',
           *left_svg,
           f'<line x1="{10 + w1 + gap // 2}" y1="{top - 14}" x2="{10 + w1 + gap // 2}" '
           f'y2="{height - 30}" stroke="#999" stroke-dasharray="4 3"/>',
           *right_svg]
    for i, (cat, colour) in enumerate(_COLOURS.items()):
        x = 20 + i * 110
        out.append(f'<circle cx="{x}" cy="{height - 14}" r="5" fill="{colour}"/>'
                   f'<text x="{x + 9}" y="{height - 10}">{cat}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
