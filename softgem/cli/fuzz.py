"""``softgem fuzz [--seconds N] [--seed S]``: a fuzzing campaign with a progress bar.

At the end it prints the runs and ioctls tried, a table of the errnos seen, and each failure
with a minimal reproducer (a Python snippet that replays it).  Exit status 0 when nothing
failed, 1 otherwise.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table

from ..fuzz import Report, reproducer, run_campaign

__all__ = ["fuzz_campaign", "print_report"]


def fuzz_campaign(seconds: float, seed: int, console: Console | None = None) -> int:
    console = console or Console()
    with Progress(TextColumn("fuzzing"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("fuzz", total=1.0)
        report = run_campaign(seconds, seed,
                              progress=lambda done: bar.update(task, completed=done))
        bar.update(task, completed=1.0)
    print_report(report, console)
    return 1 if report.failures else 0


def print_report(report: Report, console: Console) -> None:
    console.print(f"seed {report.seed}: {report.runs} runs, {report.ioctls} ioctls tried "
                  f"in {report.seconds:.1f} s, {len(report.failures)} failure(s)")
    table = Table(title="errnos seen")
    table.add_column("errno")
    table.add_column("calls", justify="right")
    for name, n in report.errnos.most_common():
        table.add_row(name, str(n))
    console.print(table)
    for i, failure in enumerate(report.failures, 1):
        console.print(f"[bold red]failure {i}[/]: {failure.error}")
        console.print(f"minimal reproducer ({len(failure.calls)} call(s)):")
        console.print(Syntax(reproducer(failure), "python", word_wrap=True))
