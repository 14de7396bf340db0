"""``softgem run -- PROGRAM``: serve an unmodified program the softgem i915 (host mode)."""

from __future__ import annotations

import sys

from .. import trace
from ..host import CoreBackend, HostUnsupported, run

__all__ = ["run_program"]

_SHOWN = {("uapi", "ioctl"), ("userptr", "invalidate"), ("userptr", "create"),
          ("userptr", "pinned"), ("userptr", "collision"), ("host", "mm_event"),
          ("host", "mirror"), ("host", "revoke"), ("host", "gem_mmap")}


def run_program(argv: list[str], *, trace_on: bool = False, memory: int = 256 << 20) -> int:
    backend = CoreBackend(memory=memory)
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
