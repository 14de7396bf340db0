"""``softgem explore``: list scenarios, or explore one and show its first failure.

``--design NAME`` explores the scenario on machines built with userptr design NAME
(``softgem.gem.designs``; the scenario is then named ``SCENARIO@NAME``, which :func:`get`
resolves, so ``--jobs`` workers and replays find it too).
"""

from __future__ import annotations

import dataclasses
import sys

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..explore import Report, explore, replay
from ..explore import estimate as estimate_tree
from ..gem import design_names
from ..scenarios import PLANTED_BUGS, Scenario, all_scenarios
from ..scenarios import get as get_scenario

__all__ = ["explore_command", "get", "interleaving_table", "on_design"]


def on_design(scen: Scenario, design: str) -> Scenario:
    """``scen`` on machines built with userptr design ``design`` (ValueError naming the known
    designs; planted bugs are v6.8 copies and take no design)."""
    if design not in design_names():
        raise ValueError(f"unknown userptr design {design!r}; known: "
                         f"{', '.join(design_names())}")
    if scen.userptr_ops is not None:
        raise ValueError(f"{scen.name} runs over a planted-bug copy of v6.8: no --design")
    return dataclasses.replace(scen, name=f"{scen.name}@{design}", machine_options={
        **scen.machine_options, "userptr_design": design})


def get(name: str) -> Scenario:
    """A catalog scenario by name, ``SCENARIO+BUG`` or ``SCENARIO@DESIGN``."""
    base, at, design = name.partition("@")
    scen = get_scenario(base)
    return on_design(scen, design) if at else scen


def interleaving_table(report: Report, last: int = 60) -> Table:
    """The schedule as side-by-side columns, one per task (the last ``last`` steps)."""
    table = Table(title=f"{report.scenario}: {report.kind} (token {report.token})",
                  show_lines=False)
    table.add_column("#", justify="right", style="dim")
    tasks = report.tasks
    for name in tasks:
        table.add_column(name, overflow="fold")
    steps = report.steps
    start = max(0, len(steps) - last)
    if start:
        table.add_row("...", *[f"({start} earlier steps)" if i == 0 else "" for i in
                               range(len(tasks))])
    for i, (task, kind, obj) in enumerate(steps[start:], start):
        cells = ["" for _ in tasks]
        cells[tasks.index(task)] = f"{kind} {obj}".rstrip()
        table.add_row(str(i), *cells)
    return table


def show_failure(console: Console, report: Report) -> None:
    console.print(interleaving_table(report))
    console.print(f"{report.kind}: {report.message}", style="bold red", markup=False)
    for task, stack in report.stacks.items():
        console.print(f"[bold]{task}[/] stack:")
        for line in stack:
            console.print(f"  {line}", markup=False, highlight=False)
    base, at, design = report.scenario.partition("@")
    opt = f" --design {design}" if at else ""
    console.print(f"replay: softgem explore {base}{opt} --replay {report.token}")


@click.command("explore")
@click.argument("scenario", required=False)
@click.option("--strategy", type=click.Choice(["random", "pct", "dfs", "dpor"]), default="pct",
              show_default=True)
@click.option("--schedules", type=int, default=None,
              help="Schedules to run (default: the scenario's stated bound).")
@click.option("--depth", type=int, default=None, help="PCT bug depth d (default 3).")
@click.option("--preemptions", type=int, default=None, help="DFS preemption bound K.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--replay", "token", default=None, help="Run the one schedule TOKEN names.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Local processes.")
@click.option("--ray", "ray_address", default=None, help="Run on this Ray cluster.")
@click.option("--svg", type=click.Path(dir_okay=False), default=None,
              help="Also write the failing interleaving as an SVG picture.")
@click.option("--design", default=None,
              help="Explore on this userptr design (softgem.gem.designs; default v6.8).")
@click.option("--estimate", is_flag=True,
              help="Estimate the tree search's size (--schedules random paths, default "
                   "400) instead of running it.")
def explore_command(scenario: str | None, strategy: str, schedules: int | None,
                    depth: int | None, preemptions: int | None, seed: int, token: str | None,
                    jobs: int, ray_address: str | None, svg: str | None,
                    design: str | None, estimate: bool) -> None:
    """Explore SCENARIO's interleavings (omit SCENARIO to list them)."""
    console = Console(record=svg is not None)
    if scenario is None:
        for name, s in sorted(all_scenarios().items()):
            click.echo(f"{name:28} {s.doc}")
        click.echo(f"planted bugs (explore SCENARIO+BUG): {', '.join(PLANTED_BUGS)}")
        click.echo(f"userptr designs (explore --design NAME): {', '.join(design_names())}")
        return
    try:
        scen = get(scenario)
        if design is not None:
            scen = on_design(scen, design)
    except KeyError as exc:
        console.print(str(exc.args[0]), style="red", markup=False)
        sys.exit(2)
    except ValueError as exc:
        console.print(str(exc), style="red", markup=False)
        sys.exit(2)
    if estimate:
        try:
            est = estimate_tree(scen, strategy, preemptions=preemptions,
                                probes=schedules or 400, seed=seed)
        except ValueError as exc:
            console.print(str(exc), style="red", markup=False)
            sys.exit(2)
        console.print(est.summary(), markup=False)
        return
    if token is not None:
        try:
            report = replay(scen, token)
        except ValueError as exc:
            console.print(str(exc), style="red", markup=False)
            sys.exit(2)
    else:
        try:
            report = _campaign(console, scen, strategy, schedules, depth, preemptions, seed,
                               jobs, ray_address)
        except (RuntimeError, ValueError) as exc:
            console.print(str(exc), style="red", markup=False)
            sys.exit(2)
    console.print(report.summary() if not report.failed else
                  f"{report.scenario}: {report.schedules} schedules, {report.distinct} "
                  f"distinct traces, {report.elapsed:.2f}s")
    if report.failed:
        show_failure(console, report)
    if svg is not None:
        console.save_svg(svg, title=f"softgem explore {scenario}")
    sys.exit(1 if report.failed else 0)


def _campaign(console: Console, scen: object, strategy: str, schedules: int | None,
              depth: int | None, preemptions: int | None, seed: int, jobs: int,
              ray_address: str | None) -> Report:
    total = schedules if schedules is not None else (
        getattr(scen, "pct_schedules", 1000) if strategy not in ("dfs", "dpor") else 0)
    cols = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} schedules"),
            TextColumn("{task.fields[rate]:.0f}/s"), TextColumn("{task.fields[distinct]} distinct"),
            TextColumn("{task.fields[failures]} failures"), TimeElapsedColumn()]
    with Progress(*cols, console=console, transient=True) as bar:
        tid = bar.add_task(f"{strategy}", total=total or None, rate=0.0, distinct=0, failures=0)

        def progress(done: int, _total: int, distinct: int, failures: int) -> None:
            if done % 10 == 0:
                elapsed = bar.tasks[0].elapsed or 1e-9
                bar.update(tid, completed=done, rate=done / elapsed, distinct=distinct,
                           failures=failures)

        ref = f"softgem.cli.explore_cmd:{getattr(scen, 'name', '')}"
        return explore(scen, strategy, schedules=schedules, seed=seed, depth=depth,
                       preemptions=preemptions, jobs=jobs, progress=progress,
                       ray_address=ray_address, scenario_ref=ref)
