"""``softgem run -- PROGRAM``: serve an unmodified program the softgem i915 (host mode)."""

from __future__ import annotations

import sys

from .. import trace
from ..host import HostUnsupported, run
from ..host.core import CoreBackend

__all__ = ["run_program"]

_SHOWN = {("uapi", "ioctl"), ("userptr", "invalidate"), ("userptr", "create"),
          ("userptr", "pinned"), ("userptr", "collision"), ("host", "mm_event")}


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
