"""``softgem run -- PROGRAM``: serve an unmodified program the softgem i915 (host mode).

While the program runs the supervisor ignores SIGINT and SIGQUIT, as ``system(3)`` and a
shell do for a foreground command: Ctrl-C reaches the program (the terminal signals the
whole foreground process group), and ``softgem run`` exits with the program's status --
130 when SIGINT killed it.  A SIGINT that lands outside that window exits 130 too (main.py).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from .. import trace
from ..host import CoreBackend, HostUnsupported, run

__all__ = ["run_program"]

_SHOWN = {("uapi", "ioctl"), ("userptr", "invalidate"), ("userptr", "create"),
          ("userptr", "pinned"), ("userptr", "collision"), ("host", "mm_event"),
          ("host", "mirror"), ("host", "revoke"), ("host", "gem_mmap"), ("gpu", "hang"),
          ("gpu", "manual_reset")}


def run_program(argv: list[str], *, trace_on: bool = False, memory: int = 256 << 20,
                design: str = "v6.8") -> int:
    try:
        backend = CoreBackend(memory=memory, design=design)
    except ValueError as exc:       # an unknown design: the message lists the known ones
        print(f"softgem run: {exc}", file=sys.stderr)
        return 2
    unsubscribe = None
    if trace_on:
        def show(ev: trace.Event) -> None:
            if (ev.category, ev.name) in _SHOWN:
                print(f"softgem: {ev}", file=sys.stderr, flush=True)

        unsubscribe = trace.subscribe(show)
    try:
        with _foreground_command():
            status = run(argv, backend,
                         trace=(lambda line: print(f"softgem: {line}", file=sys.stderr))
                         if trace_on else None)
    except HostUnsupported as exc:
        print(f"softgem run: {exc}", file=sys.stderr)
        return 125
    finally:
        if unsubscribe is not None:
            unsubscribe()
    leaks = {k: v for k, v in backend.counters().items() if v and k != "frames_used"}
    if leaks:
        print(f"softgem run: leaked after exit: {leaks}", file=sys.stderr)
    return status


@contextlib.contextmanager
def _foreground_command() -> Iterator[None]:
    """SIGINT and SIGQUIT ignored for the duration (main thread only: signal handlers can
    be set nowhere else), the previous handlers restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGQUIT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
