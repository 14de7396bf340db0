"""A range allocator for GPU address spaces (``struct drm_mm``).

A :class:`DrmMM` hands out ``[start, start + size)`` ranges of ``[mm.start, mm.start + size)``
as :class:`DrmMMNode` records.  gen9 needs no colouring (no guard pages between cache
domains), so the allocator is colour-free.

Placement is first fit: the lowest aligned start of the lowest hole that fits
(``DRM_MM_INSERT_LOW``), or the highest one with ``high=True`` (``DRM_MM_INSERT_HIGH``); a
``fixed_start`` reserves exactly that range (``drm_mm_reserve_node``).  The kernel's i915
default is best fit with a random fallback; first fit keeps placements easy to predict and to
test, and the uAPI promises nothing about where an unpinned object lands.

Eviction helpers (``drm_mm_scan``): :meth:`DrmMM.scan` takes candidate nodes in the order the
caller would like to lose them (least recently used first) and stops at the first prefix
whose removal opens a hole that fits; it returns only the candidates overlapping the range it
would place the new node at, so a scan never evicts more than the hole needs.
:meth:`DrmMM.overlapping` lists the nodes in the way of a fixed placement
(``i915_gem_evict_for_node``).

Nodes are kept sorted by start in a plain list (bisect); a copy-on-write tuple of the same
nodes, :attr:`DrmMM.snapshot`, is what lock-free readers (the GPU walking its page tables)
look at: it is replaced, never mutated, so a reader sees one consistent version.

Locking: none inside; the owner (the address space's ``vm.mutex``) serialises every call but
:attr:`snapshot` reads.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import EINVAL, ENOSPC, SimBug

__all__ = ["DrmMM", "DrmMMNode"]


class DrmMMNode:
    """One allocated range; ``owner`` is what the caller hung on it (a vma)."""

    __slots__ = ("allocated", "owner", "size", "start")

    def __init__(self, owner: Any = None) -> None:
        self.start = 0
        self.size = 0
        self.allocated = False
        self.owner = owner

    @property
    def end(self) -> int:
        return self.start + self.size

    def __repr__(self) -> str:
        state = f"[{self.start:#x}, {self.end:#x})" if self.allocated else "unallocated"
        return f"<DrmMMNode {state}>"


def _align_up(n: int, alignment: int) -> int:
    return n if alignment <= 1 else -(-n // alignment) * alignment


def _align_down(n: int, alignment: int) -> int:
    return n if alignment <= 1 else n // alignment * alignment


class DrmMM:
    """Allocator over ``[start, start + size)``; every call is serialised by the owner."""

    __slots__ = ("_nodes", "_starts", "size", "snapshot", "start")

    def __init__(self, start: int, size: int) -> None:
        if start < 0 or size <= 0:
            raise SimBug(f"DrmMM({start:#x}, {size:#x})")
        self.start = start
        self.size = size
        self._nodes: list[DrmMMNode] = []
        self._starts: list[int] = []
        self.snapshot: tuple[tuple[int, ...], tuple[DrmMMNode, ...]] = ((), ())

    @property
    def end(self) -> int:
        return self.start + self.size

    # -- allocation --------------------------------------------------------------------------
    def insert(self, node: DrmMMNode, size: int, alignment: int = 0, *,
               fixed_start: int | None = None, range_start: int | None = None,
               range_end: int | None = None, high: bool = False) -> None:
        """Place ``node`` (first fit, or exactly at ``fixed_start``) within the range.

        Raises: EINVAL for a zero size, a bad alignment or a fixed range outside the
        allocator; ENOSPC when no hole fits (or the fixed range is taken).
        """
        if node.allocated:
            raise SimBug(f"{node!r} inserted twice")
        lo = self.start if range_start is None else max(self.start, range_start)
        hi = self.end if range_end is None else min(self.end, range_end)
        if size <= 0 or alignment < 0:
            raise EINVAL(f"drm_mm insert of size {size:#x} alignment {alignment:#x}")
        if fixed_start is not None:
            start = self._check_fixed(fixed_start, size, lo, hi)
        else:
            start = self._find_hole(size, alignment, lo, hi, high)
        node.start, node.size, node.allocated = start, size, True
        i = bisect.bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self._nodes.insert(i, node)
        self._publish()

    def _check_fixed(self, start: int, size: int, lo: int, hi: int) -> int:
        if start < lo or start + size > hi:
            raise EINVAL(f"fixed range [{start:#x}, {start + size:#x}) outside "
                         f"[{lo:#x}, {hi:#x})")
        if self.overlapping(start, size):
            raise ENOSPC(f"fixed range [{start:#x}, {start + size:#x}) is in use")
        return start

    def _find_hole(self, size: int, alignment: int, lo: int, hi: int, high: bool) -> int:
        holes = self._holes(lo, hi)
        for hole_start, hole_end in (reversed(list(holes)) if high else holes):
            start = (_align_down(hole_end - size, alignment) if high
                     else _align_up(hole_start, alignment))
            if hole_start <= start and start + size <= hole_end:
                return start
        raise ENOSPC(f"no hole of {size:#x} bytes (alignment {alignment:#x}) in "
                     f"[{lo:#x}, {hi:#x})")

    def _holes(self, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """The free ranges within ``[lo, hi)``, in address order."""
        cursor = lo
        for node in self._nodes:
            if node.end <= cursor:
                continue
            if node.start >= hi:
                break
            if node.start > cursor:
                yield cursor, node.start
            cursor = max(cursor, node.end)
        if cursor < hi:
            yield cursor, hi

    def remove(self, node: DrmMMNode) -> None:
        """Give the range back (``drm_mm_remove_node``)."""
        if not node.allocated:
            raise SimBug(f"remove of {node!r}")
        i = bisect.bisect_left(self._starts, node.start)
        while i < len(self._nodes) and self._nodes[i] is not node:
            i += 1
        if i == len(self._nodes):
            raise SimBug(f"{node!r} is not in this allocator")
        del self._starts[i]
        del self._nodes[i]
        node.allocated = False
        self._publish()

    def _publish(self) -> None:
        self.snapshot = (tuple(self._starts), tuple(self._nodes))

    # -- queries -----------------------------------------------------------------------------
    def nodes(self) -> list[DrmMMNode]:
        """Every allocated node, in address order."""
        return list(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def node_at(self, addr: int) -> DrmMMNode | None:
        """The node whose range contains ``addr``, if any."""
        starts, nodes = self.snapshot
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < nodes[i].end:
            return nodes[i]
        return None

    def overlapping(self, start: int, size: int) -> list[DrmMMNode]:
        """The nodes intersecting ``[start, start + size)``, in address order."""
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        out: list[DrmMMNode] = []
        for node in self._nodes[i:]:
            if node.start >= start + size:
                break
            if node.end > start:
                out.append(node)
        return out

    def used(self) -> int:
        return sum(n.size for n in self._nodes)

    # -- eviction scan -----------------------------------------------------------------------
    def scan(self, size: int, alignment: int, candidates: Iterable[DrmMMNode], *,
             range_start: int | None = None, range_end: int | None = None,
             ) -> list[DrmMMNode] | None:
        """The fewest leading ``candidates`` to evict so that ``size`` fits, or None.

        Candidates are added one at a time in the given order; after each, the hole around
        it (merged with neighbouring free space and earlier candidates) is tried.  The answer
        is the candidates overlapping the placement that fits; nothing is changed.
        """
        lo = self.start if range_start is None else max(self.start, range_start)
        hi = self.end if range_end is None else min(self.end, range_end)
        scanned: set[int] = set()
        for cand in candidates:
            if not cand.allocated:
                raise SimBug(f"scan candidate {cand!r} is not allocated")
            scanned.add(id(cand))
            hole = self._merged_hole(cand, scanned, lo, hi)
            if hole is None:
                continue
            start = _align_up(hole[0], alignment)
            if start + size <= hole[1]:
                return [n for n in self.overlapping(start, size) if id(n) in scanned]
        return None

    def _merged_hole(self, cand: DrmMMNode, scanned: set[int], lo: int,
                     hi: int) -> tuple[int, int] | None:
        """The free range containing ``cand`` if every scanned node were gone."""
        i = bisect.bisect_left(self._starts, cand.start)
        while self._nodes[i] is not cand:
            i += 1
        left = i
        while left > 0 and id(self._nodes[left - 1]) in scanned:
            left -= 1
        right = i
        while right + 1 < len(self._nodes) and id(self._nodes[right + 1]) in scanned:
            right += 1
        start = self._nodes[left - 1].end if left > 0 else self.start
        end = self._nodes[right + 1].start if right + 1 < len(self._nodes) else self.end
        start, end = max(start, lo), min(end, hi)
        return (start, end) if start < end else None
