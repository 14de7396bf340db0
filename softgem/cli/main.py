"""Command-line entry points."""

from __future__ import annotations

import sys

import click

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="softgem")
def main() -> None:
    """softgem: a software i915 with real userptr, mmu notifiers and mmap_offset."""


@main.command()
@click.option("--fast", is_flag=True, help="Skip the pauses between scenes.")
def demo(fast: bool) -> None:
    """Narrate the simulated machine: memory, notifiers, userptr, mmap_offset."""
    from .demo import run_demo

    sys.exit(run_demo(fast=fast))


@main.command()
@click.argument("name", required=False)
@click.option("--quick", is_flag=True, help="A short run (for tests); targets still apply.")
def bench(name: str | None, quick: bool) -> None:
    """Run benchmark NAME (omit NAME to list them)."""
    from ..bench import BENCHMARKS, run

    if name is None:
        for bench_name in sorted(BENCHMARKS):
            click.echo(bench_name)
        return
    sys.exit(run(name, quick=quick))
