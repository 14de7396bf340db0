"""The benchmark registry and the one place results are printed."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

__all__ = ["BENCHMARKS", "BenchResult", "register", "run"]


@dataclass
class BenchResult:
    """Figures (rows of name -> value) and the one ratio that is compared with the target."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    ratios: list[tuple[str, float, float, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))

    def ratio(self, name: str, value: float, target: float, direction: str = ">=") -> None:
        """Record a ratio that must be ``direction`` (">=" or "<=") ``target``."""
        self.ratios.append((name, value, target, direction))

    def passed(self) -> bool:
        return all((v >= t) if d == ">=" else (v <= t) for _, v, t, d in self.ratios)


BenchFn = Callable[[bool], BenchResult]
BENCHMARKS: dict[str, tuple[str, str]] = {
    # name -> (module, function); modules import lazily so one broken bench cannot hide others
    "impact": ("softgem.bench.impact", "bench_impact"),
    "create-destroy": ("softgem.bench.create_destroy", "bench_create_destroy"),
    "blit": ("softgem.bench.blit", "bench_blit"),
    "host-ioctl": ("softgem.bench.host_ioctl", "bench_host_ioctl"),
    "host-mmap": ("softgem.bench.host_mmap", "bench_host_mmap"),
    "explore": ("softgem.bench.explore", "bench_explore"),
    "explore-bounds": ("softgem.bench.explore_bounds", "bench_explore_bounds"),
    "host-blit": ("softgem.bench.host_blit", "bench_host_blit"),
}


def register(name: str, module: str, function: str) -> None:
    BENCHMARKS[name] = (module, function)


def _load(name: str) -> BenchFn:
    module, function = BENCHMARKS[name]
    fn: BenchFn = getattr(importlib.import_module(module), function)
    return fn


def run(name: str, quick: bool = False, console: Console | None = None) -> int:
    console = console or Console()
    if name not in BENCHMARKS:
        console.print(f"[red]unknown benchmark {name!r}[/]; known: {', '.join(sorted(BENCHMARKS))}")
        return 2
    try:
        fn = _load(name)
    except (ImportError, AttributeError) as exc:
        console.print(f"[red]benchmark {name!r} is not available here: {exc}[/]")
        return 2
    result = fn(quick)
    table = Table(title=result.title, show_header=True)
    table.add_column("measurement")
    table.add_column("value", justify="right")
    for row_name, shown in result.rows:
        table.add_row(row_name, shown)
    console.print(table)
    for note in result.notes:
        console.print(note)
    for ratio_name, value, target, direction in result.ratios[:-1]:
        ok = (value >= target) if direction == ">=" else (value <= target)
        console.print(f"{ratio_name}: {value:.3f} (target: {direction} {target}) "
                      f"{'ok' if ok else 'MISSED'}")
    ok = result.passed()
    if result.ratios:
        last_name, value, target, direction = result.ratios[-1]
        # The last line is the verdict: the ratio and its target (all ratios must pass).
        print(f"ratio: {value:.3f} ({last_name}; target: {direction} {target}; "
              f"{'all targets met' if ok else 'TARGET MISSED'})")
    return 0 if ok else 1
