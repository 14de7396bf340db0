"""Domain checkers attached to each explored machine.

Stale GPU access: every address translation the GPU makes (``AddressSpace.resolve``, reported
through ``softgem.sync.task.observe("gpu.access", ...)``) is checked against the frames: a
frame the GPU reaches must still be allocated, and a frame of user (anonymous) memory must
still be pinned by the object that maps it -- else the GPU would read or write memory the
process may already have reused.
"""

from __future__ import annotations

import itertools
from typing import Any

from .. import explore
from ..machine import Machine
from ..units import PAGE_SHIFT

__all__ = ["attach_checkers", "notifier_wait_chain", "stale_frames"]

_NOTIFIER_MAP = "notifier.invalidate_range_start_map"


def _held_names(t: Any) -> list[str]:
    st = t.local.get("lockdep")
    return [h.cls.name for h in st.held] if st is not None else []


def _waits_for_gpu(t: Any) -> bool:
    name = getattr(t.wait_obj, "name", "")
    return t.ready is not None and t.wait_kind == "wait_event" and isinstance(name, str) and (
        name.startswith("fence ") or name.endswith(" retire"))


def notifier_wait_chain(ex: Any) -> str:
    """"task X (in a notifier callback) waits for L held by Y, which waits for the GPU"."""
    for t in ex.tasks:
        if t.done or t.ready is None or _NOTIFIER_MAP not in _held_names(t):
            continue
        chain = [t]
        cur = t
        while len(chain) < 8:
            holders = [h for h in ex.holders(cur.wait_obj) if h not in chain]
            if not holders:
                break
            cur = holders[0]
            chain.append(cur)
            if _waits_for_gpu(cur):
                hops = ", ".join(f"{a.name} waits for {_label(a.wait_obj)} held by {b.name}"
                                 for a, b in itertools.pairwise(chain))
                return (f"task {hops}, which waits for the GPU ({_label(cur.wait_obj)}): the "
                        f"notifier callback in {t.name} is blocked behind GPU work")
            if cur.ready is None:
                break
    return ""


def _label(obj: object) -> str:
    cls = getattr(obj, "lock_class", None)
    return cls.name if cls is not None else str(getattr(obj, "name", type(obj).__name__))


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

    def blocked(_task: Any) -> None:
        why = notifier_wait_chain(ex)
        if why:
            explore.fail("notifier-waits-for-gpu", why)

    ex.observers.append(gpu_access)
    ex.block_observers.append(blocked)
