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
@click.option("--timeline", type=click.Path(dir_okay=False), default=None,
              help="Also write the GPU scene's timeline picture (SVG) to this path.")
@click.option("--history", "history", is_flag=True,
              help="Only the history scene: a bug of an old userptr design beside its fix.")
@click.option("--svg", type=click.Path(dir_okay=False), default=None,
              help="With --history: write both interleavings side by side as an SVG.")
def demo(fast: bool, timeline: str | None, history: bool, svg: str | None) -> None:
    """Narrate the simulated machine: memory, notifiers, userptr, mmap_offset, the GPU."""
    from . import demo_gpu
    from .demo import run_demo

    if history:
        from rich.console import Console

        from .demo_history import run_history

        sys.exit(run_history(Console(), svg=svg))
    if svg is not None:
        raise click.UsageError("--svg goes with --history (the GPU scene's is --timeline)")

    demo_gpu.configure(timeline=timeline)
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


@main.command()
@click.option("--seconds", default=10.0, show_default=True, help="The campaign's time budget.")
@click.option("--seed", default=0, show_default=True, help="The campaign's seed.")
def fuzz(seconds: float, seed: int) -> None:
    """Fuzz every ioctl against a victim process; report errnos and failures."""
    from .fuzz import fuzz_campaign

    sys.exit(fuzz_campaign(seconds, seed))


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--trace", "trace_on", is_flag=True,
              help="Print each served ioctl and each invalidation as it happens.")
@click.option("--memory", default=256, show_default=True,
              help="MiB of frames for pinned pages.")
@click.option("--design", default="v6.8", show_default=True,
              help="The userptr design to serve (v3.16, v4.4, v5.13, v5.14, v6.8, ...).")
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
def run(trace_on: bool, memory: int, design: str, argv: tuple[str, ...]) -> None:
    """Run PROGRAM with a software i915 at /dev/dri/card0 and renderD128.

    Usage: softgem run [--trace] -- PROGRAM ARGS...
    """
    from .run import run_program

    try:
        status = run_program(list(argv), trace_on=trace_on, memory=memory << 20,
                             design=design)
    except KeyboardInterrupt:     # SIGINT before or after the program's run: 128 + SIGINT
        status = 130
    sys.exit(status)


from .explore_cmd import explore_command  # noqa: E402  (registered below the group)

main.add_command(explore_command)

from .history import history_command  # noqa: E402

main.add_command(history_command)
