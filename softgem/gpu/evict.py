"""Finding room in an address space (``i915_gem_gtt_insert`` + ``i915_gem_evict.c``).

:func:`insert_node` is the binder's one entry: a fixed placement (softpin) or first fit in
the range the pin flags allow; when that fails and eviction is allowed, make room and try
once more:

* for a fixed range, every vma overlapping it must go (``evict_for_node``): a pinned one
  means ENOSPC;
* otherwise the allocator's scan picks the fewest least-recently-used idle unpinned vmas
  (closed ones first) whose removal opens a fitting hole (``evict_something``).

Only idle vmas are evicted here: this runs under ``vm.mutex``, which is never held while
waiting for the GPU.  When only busy (active, unpinned) vmas stand in the way, the functions
raise :class:`Blocked` with a fence to wait for; the binder drops ``vm.mutex``, waits (still
holding its object lock, which is allowed to wait on fences) and starts again.  A victim's
object lock is only *tried* (as the kernel's eviction trylocks under its ww context): the
binder already holds its own object lock, and waiting for a second one could deadlock
against another binder; a contended victim is skipped.

Rejected: the kernel's random-offset attempt before the scan (i915_gem_gtt_insert tries a
random hole first on a full space) -- it only spreads placements, and determinism here comes
from first fit; and evicting the whole space (``i915_gem_evict_vm``) as a last resort inside
``pin`` -- execbuf may call :func:`evict_vm` itself before its final retry, as the kernel's
eb_reserve does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import trace
from ..errors import EINVAL, ENOSPC
from ..sync import Fence
from .vma import (
    PIN_HIGH,
    PIN_MAPPABLE,
    PIN_NOEVICT,
    PIN_NONBLOCK,
    PIN_OFFSET_BIAS,
    PIN_OFFSET_FIXED,
    PIN_ZONE_4G,
    ZONE_4G_END,
)

if TYPE_CHECKING:
    from .drm_mm import DrmMMNode
    from .vm import AddressSpace
    from .vma import GpuVma

__all__ = ["Blocked", "evict_for_node", "evict_something", "evict_vm", "insert_node",
           "pin_range"]


class Blocked(Exception):
    """Room can be made only after ``fence`` signals: drop ``vm.mutex``, wait, retry."""

    def __init__(self, fence: Fence) -> None:
        super().__init__(fence.name)
        self.fence = fence


def pin_range(vm: AddressSpace, flags: int, offset: int) -> tuple[int, int]:
    """``[start, end)`` a pin with ``flags`` may use (``i915_vma_insert``'s limits)."""
    start, end = 0, vm.total
    if flags & PIN_MAPPABLE:
        end = min(end, getattr(vm, "mappable_end", end))
    if flags & PIN_ZONE_4G:
        end = min(end, ZONE_4G_END)
    if flags & PIN_OFFSET_BIAS:
        start = offset
    return start, end


def insert_node(vm: AddressSpace, node: DrmMMNode, size: int, alignment: int, flags: int,
                offset: int) -> None:
    """Place ``node``; caller holds ``vm.mutex`` (and the binding object's lock).

    Raises: ENOSPC (larger than the usable range; no room even after eviction; a fixed range
    held by a pinned vma), EINVAL (a fixed offset unaligned or overflowing the range),
    :class:`Blocked`.
    """
    lo, hi = pin_range(vm, flags, offset)
    if size > hi - lo:
        raise ENOSPC(f"{size:#x} bytes cannot fit in [{lo:#x}, {hi:#x}) of {vm.name}")
    if flags & PIN_OFFSET_FIXED:
        if (alignment > 1 and offset % alignment) or offset >= hi or size > hi - offset:
            raise EINVAL(f"fixed offset {offset:#x} unaligned or outside {vm.name}")
        try:
            vm.mm.insert(node, size, fixed_start=offset)
            return
        except ENOSPC:
            if flags & PIN_NOEVICT:
                raise
        evict_for_node(vm, offset, size, flags)
        vm.mm.insert(node, size, fixed_start=offset)
        return
    high = bool(flags & PIN_HIGH)
    try:
        vm.mm.insert(node, size, alignment, range_start=lo, range_end=hi, high=high)
        return
    except ENOSPC:
        if flags & PIN_NOEVICT:
            raise
    evict_something(vm, size, alignment, lo, hi, flags)
    vm.mm.insert(node, size, alignment, range_start=lo, range_end=hi, high=high)


def evict_for_node(vm: AddressSpace, start: int, size: int, flags: int) -> None:
    """Unbind every vma overlapping ``[start, start + size)``; caller holds ``vm.mutex``."""
    victims: list[GpuVma] = [n.owner for n in vm.mm.overlapping(start, size)]
    for v in victims:
        if v.pin_count:
            raise ENOSPC(f"[{start:#x}, {start + size:#x}) overlaps pinned {v!r}")
    _wait_for_busy(victims, flags)
    if not _unbind_victims(vm, victims):
        raise ENOSPC(f"[{start:#x}, {start + size:#x}): a victim's object is busy")


def evict_something(vm: AddressSpace, size: int, alignment: int, lo: int, hi: int,
                    flags: int) -> None:
    """Unbind the fewest LRU idle vmas that open a hole for ``size``; caller holds
    ``vm.mutex``.  Raises ENOSPC when even evicting every unpinned vma would not do."""
    skipped: set[int] = set()
    while True:
        order = [v for v in vm.eviction_order_locked()
                 if v.bound and not v.pin_count and id(v) not in skipped]
        idle = [v for v in order if not v.active]
        nodes = vm.mm.scan(size, alignment, (v.node for v in idle), range_start=lo,
                           range_end=hi)
        if nodes is None:
            if len(idle) < len(order) and vm.mm.scan(
                    size, alignment, (v.node for v in order), range_start=lo,
                    range_end=hi) is not None:
                _wait_for_busy([v for v in order if v.active], flags)
            raise ENOSPC(f"no room for {size:#x} bytes in {vm.name}: everything is pinned")
        victims: list[GpuVma] = [n.owner for n in nodes]
        locked = _trylock_all(victims)
        if locked is None:
            busy = {id(v) for v in victims if v.obj.lock.is_locked()}
            skipped.update(busy or {id(v) for v in victims})
            continue
        try:
            for v in victims:
                v.unbind_locked()
        finally:
            for v in locked:
                v.obj.lock.unlock()
        vm.nr_evictions += len(victims)
        if trace.enabled:
            trace.emit("gpu", "evict", vm=vm.name, size=size, victims=len(victims))
        return


def evict_vm(vm: AddressSpace) -> int:
    """Unbind every idle unpinned vma whose object lock is free; returns how many.  Caller
    holds ``vm.mutex``."""
    count = 0
    for v in vm.eviction_order_locked():
        if not v.bound or v.pin_count or v.active or not v.obj.lock.trylock():
            continue
        try:
            v.unbind_locked()
            count += 1
        finally:
            v.obj.lock.unlock()
    return count


def _wait_for_busy(victims: Sequence[GpuVma], flags: int) -> None:
    for v in victims:
        if v.active:
            if flags & PIN_NONBLOCK:
                raise ENOSPC(f"{v!r} is busy and the pin may not wait")
            raise Blocked(v.active[0])


def _trylock_all(victims: Sequence[GpuVma]) -> list[GpuVma] | None:
    """Trylock every victim's object; all of them (in order) or none."""
    locked: list[GpuVma] = []
    for v in victims:
        if not v.obj.lock.trylock():
            for w in locked:
                w.obj.lock.unlock()
            return None
        locked.append(v)
    return locked


def _unbind_victims(vm: AddressSpace, victims: Sequence[GpuVma]) -> bool:
    locked = _trylock_all(victims)
    if locked is None:
        return False
    try:
        for v in victims:
            v.unbind_locked()
    finally:
        for v in locked:
            v.obj.lock.unlock()
    vm.nr_evictions += len(victims)
    return True
