"""``softgem demo``: a narrated tour of the simulated machine.

Each scene does real work through the public API and prints what the kernel saw: the events
of the mm, the notifier sequence numbers, the userptr pins, the errnos.  Nothing here is
scripted output: the lines under each scene come from ``softgem.trace`` as the code runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import trace
from ..machine import Machine, Process
from ..mm import NotifierRange, Vma
from ..notifier import (
    MmuIntervalNotifier,
    mmu_interval_notifier_insert,
    mmu_interval_notifier_remove,
    mmu_interval_read_begin,
    mmu_interval_read_retry,
    mmu_interval_set_seq,
)
from ..posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from .demo_gem import GEM_SCENES
from .demo_gpu import GPU_SCENES

__all__ = ["run_demo", "Narrator"]

_STYLE = {"mm": "cyan", "notifier": "magenta", "userptr": "yellow", "gem": "green",
          "ioctl": "blue", "process": "bright_black", "gpu": "red"}
_QUIET = {("gem", "handle_create"), ("gem", "handle_close")}


class Narrator:
    """Prints scene titles, prose and the trace events that happen during each step."""

    def __init__(self, console: Console, fast: bool) -> None:
        self.console = console
        self.fast = fast
        self.events = 0

    def scene(self, title: str, text: str) -> None:
        self.console.rule(f"[bold]{title}")
        self.console.print(text)
        if not self.fast:
            time.sleep(0.3)

    def say(self, text: str) -> None:
        self.console.print(text)

    def on_event(self, ev: trace.Event) -> None:
        if (ev.category, ev.name) in _QUIET:
            return
        self.events += 1
        style = _STYLE.get(ev.category, "white")
        self.console.print(f"   [{style}]{escape(str(ev))}[/]", highlight=False, soft_wrap=True)


class _DemoNotifier:
    """A driver-like interval notifier that records the sequence it is given."""

    def invalidate(self, sub: MmuIntervalNotifier, rng: NotifierRange, cur_seq: int) -> bool:
        mmu_interval_set_seq(sub, cur_seq)
        return True


def _vma_table(proc: Process) -> Table:
    table = Table(title=f"address space of pid {proc.pid}", show_lines=False)
    for col in ("start", "end", "size", "flags"):
        table.add_column(col)
    for vma in proc.mm.vmas():
        table.add_row(f"{vma.start:#x}", f"{vma.end:#x}", f"{(vma.end - vma.start) >> 10} KiB",
                      _flags(vma))
    return table


def _flags(vma: Vma) -> str:
    text = repr(vma)
    return text[text.find("[") :] if "[" in text else text


def _memory_scenes(n: Narrator, machine: Machine) -> None:
    proc = machine.spawn("demo")
    n.scene("1. A process maps memory",
            "mmap(64 KiB, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS), then the CPU writes "
            "the first two pages: each first touch is a page fault.")
    addr = proc.mmap(0, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(addr, b"A" * 8192)
    n.console.print(_vma_table(proc))

    n.scene("2. A driver watches the range",
            "An mmu_interval_notifier over [addr, addr+64 KiB): the driver's view of these pages "
            "is valid while its sequence number does not move.")
    sub = MmuIntervalNotifier()
    mmu_interval_notifier_insert(sub, proc.mm, addr, 64 << 10, _DemoNotifier())
    seq = mmu_interval_read_begin(sub)
    n.say(f"read_begin -> seq {seq}; read_retry now -> {mmu_interval_read_retry(sub, seq)}")

    n.scene("3. fork()",
            "The child shares the parent's private pages copy-on-write, so the parent's PTEs "
            "become read-only: the notifier hears PROTECTION_PAGE.")
    child = proc.fork()
    n.say(f"read_retry(seq {seq}) -> {mmu_interval_read_retry(sub, seq)}: the view is stale")

    n.scene("4. Copy-on-write",
            "The parent writes one page it shares with the child: the fault copies the page and "
            "the notifier hears CLEAR for exactly that page.")
    seq = mmu_interval_read_begin(sub)
    proc.write(addr + 4096, b"B")
    n.say(f"parent sees {proc.read(addr + 4096, 2)!r}, child still sees "
          f"{child.read(addr + 4096, 2)!r}")

    n.scene("5. munmap",
            "Unmapping half the range raises UNMAP even for pages never touched.")
    seq = mmu_interval_read_begin(sub)
    proc.munmap(addr + (32 << 10), 32 << 10)
    n.say(f"read_retry(seq {seq}) -> {mmu_interval_read_retry(sub, seq)}")
    mmu_interval_notifier_remove(sub)
    child.exit()
    proc.exit()


def run_demo(fast: bool = False, console: Console | None = None) -> int:
    console = console or Console()
    n = Narrator(console, fast)
    machine = Machine()
    unsubscribe = trace.subscribe(n.on_event)
    scenes: list[Callable[[Narrator, Machine], None]] = [_memory_scenes, *GEM_SCENES,
                                                         *GPU_SCENES]
    try:
        for scene in scenes:
            scene(n, machine)
    finally:
        unsubscribe()
    machine.shutdown()
    leaks = machine.counters().leaks()
    console.rule("[bold]The end")
    if leaks:
        console.print(f"[red]leaked: {leaks}[/]")
        return 1
    console.print(f"{n.events} kernel events narrated; every process exited and every counter "
                  "(frames, pins, handles, offset nodes, notifier registrations) is back to 0.")
    return 0
