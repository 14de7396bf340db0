"""Domain checkers attached to each explored machine.

Stale GPU access: every address translation the GPU makes (``AddressSpace.resolve``, reported
through ``softgem.sync.task.observe("gpu.access", ...)``) is checked against the frames: a
frame the GPU reaches must still be allocated, and a frame of user (anonymous) memory must
still be pinned by the object that maps it -- else the GPU would read or write memory the
process may already have reused.
"""

from __future__ import annotations

from typing import Any

from .. import explore
from ..machine import Machine
from ..units import PAGE_SHIFT

__all__ = ["attach_checkers", "stale_frames"]


def stale_frames(phys: Any, runs: list[tuple[int, int, bool]]) -> list[int]:
    bad: list[int] = []
    for off, n, _ in runs:
        if off < 0:
            continue
        for index in range(off >> PAGE_SHIFT, (off + n - 1 >> PAGE_SHIFT) + 1):
            pfn = phys.pfn_of(index)
            if phys.page_count(pfn) == 0 or (phys.is_anon(pfn) and phys.pincount(pfn) == 0):
                bad.append(int(pfn))
    return bad


def attach_checkers(machine: Machine) -> None:
    phys = machine.phys
    ex = explore.current_execution()

    def gpu_access(kind: str, obj: object, detail: object) -> None:
        if kind != "gpu.access" or not isinstance(detail, list):
            return
        bad = stale_frames(phys, detail)
        if bad:
            explore.fail("stale-access", f"the GPU reached frame(s) {bad[:4]} that no object "
                         "pins any more (freed, or user memory no longer pinned)")

    ex.observers.append(gpu_access)
