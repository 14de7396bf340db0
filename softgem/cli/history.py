"""``softgem history``: run the history rows, print them, regenerate docs/history.md."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

__all__ = ["history_command"]

_DOC = Path(__file__).resolve().parents[2] / "docs" / "history.md"


@click.command("history")
@click.option("--quick", is_flag=True, help="Fixed designs explored within the rows' budgets "
              "only (CI); otherwise within 10x.")
@click.option("--doc", type=click.Path(dir_okay=False), default=str(_DOC), show_default=True,
              help="Where to write the regenerated history document.")
def history_command(quick: bool, doc: str) -> None:
    """Show each historical userptr bug found on its design and absent from the fix."""
    from ..scenarios import history_run

    console = Console(width=160)
    results = history_run.run_all(quick=quick)
    table = Table(title="softgem history")
    for col in ("seed", "bug", "design", "scenario", "strategy", "schedules to failure",
                "checker", "replay token", "fixed design"):
        table.add_column(col, overflow="fold")
    for r in results:
        row = r.row
        table.add_row(row.seed, row.point, row.design, row.scenario, row.strategy,
                      f"{r.found_at} (budget {row.budget})" if r.found else "not found",
                      r.kind or "-", r.token or "-",
                      f"{row.fixed}: clean in {r.fixed_schedules}" if r.fixed_clean
                      else f"{row.fixed}: {r.fixed_kind}")
    console.print(table)
    console.print("Every row of issue 11 (seeds 000-004) is reproduced; the document adds "
                  "PCT's bound and DFS per row.",
                  markup=False, highlight=False)
    Path(doc).write_text(history_run.render_doc(results, quick=quick) + "\n")
    console.print(f"wrote {doc}", markup=False, highlight=False)
    bad = [r for r in results if not r.ok]
    for r in bad:
        console.print(f"row {r.row.point} on {r.row.design}: expected {r.row.kind}, got "
                      f"{r.kind or 'no failure'} (replayed: {r.replayed}, fixed clean: "
                      f"{r.fixed_clean})", style="red", markup=False)
    sys.exit(1 if bad else 0)
