"""The fake-offset space of GEM mmaps (``drm_vma_offset_manager`` over ``drm_mm``).

Userspace maps a GEM object by passing an *offset* to ``mmap(2)`` on the DRM fd.  Offsets are
handed out from one device-wide range of page numbers that starts above 4 GiB (so it never
collides with the legacy map offsets below it) and is 256 times that size.  Each
:class:`OffsetNode` owns ``npages`` consecutive page numbers and carries the set of DRM files
allowed to map it (``mmap`` by any other file gets EACCES).

Allocation is best fit, lowest address within the chosen hole, as ``drm_mm_insert_node`` in
its default mode: a small object does not split a large hole while a snug one exists.  Holes
are kept twice (by size for allocation, by start for merging on free) in sortedcontainers
structures, so add/remove/lookup are O(log n).

Locking: ``OffsetManager.lock`` (RwLock "drm.vma_offset_manager") guards the node tree and
holes; lookups take it for read, add/remove for write.  The mmap path holds it for read across
lookup + ``get_unless_zero`` of the owner, so an object whose last reference is being dropped
cannot be resurrected (its node is removed under the write lock during free).  Each node's
allow list has its own RwLock "drm.vma_offset_node" (taken alone, never inside the manager
lock's write side).

Rejected alternative: a bump allocator never reusing offsets.  Simpler, but a long-running
program creating and freeing objects would run out of the (finite) space the kernel recycles,
and offsets would not repeat the way they do on a real kernel.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sortedcontainers import SortedDict, SortedList

from ..errors import ENOSPC, SimBug
from ..sync import RwLock
from ..units import PAGE_SHIFT

__all__ = [
    "DRM_FILE_PAGE_OFFSET_START",
    "DRM_FILE_PAGE_OFFSET_SIZE",
    "OffsetManager",
    "OffsetNode",
]

DRM_FILE_PAGE_OFFSET_START = (0xFFFFFFFF >> PAGE_SHIFT) + 1
DRM_FILE_PAGE_OFFSET_SIZE = (0xFFFFFFFF >> PAGE_SHIFT) * 256


class OffsetNode:
    """One range of fake page offsets (``drm_vma_offset_node``).

    ``start`` is 0 while the node is not in a manager.  ``owner`` is whatever the driver hangs
    on the node (the :class:`~softgem.gem.mman.MmapOffset`).

    Allow list: file -> count.  ``allow`` counts (``drm_vma_node_allow``); ``allow_once`` does
    not (``drm_vma_node_allow_once``: the i915 MMAP_OFFSET path, so one GEM_CLOSE revokes no
    matter how many times the offset was asked for).  The list survives add/remove.
    """

    __slots__ = ("_allowed", "_lock", "npages", "owner", "start")

    def __init__(self, owner: Any = None) -> None:
        self.start = 0
        self.npages = 0
        self.owner = owner
        self._allowed: dict[Hashable, int] = {}
        self._lock = RwLock("drm.vma_offset_node")

    def __repr__(self) -> str:
        return f"<OffsetNode {self.start:#x}+{self.npages}>"

    @property
    def allocated(self) -> bool:
        return self.npages != 0

    def offset_addr(self) -> int:
        """The byte offset userspace passes to mmap (``drm_vma_node_offset_addr``)."""
        return self.start << PAGE_SHIFT

    # -- access control ---------------------------------------------------------------------
    def allow(self, file: Hashable) -> None:
        with self._lock.write():
            self._allowed[file] = self._allowed.get(file, 0) + 1

    def allow_once(self, file: Hashable) -> None:
        with self._lock.write():
            self._allowed.setdefault(file, 1)

    def revoke(self, file: Hashable) -> None:
        """Drop one allowance of ``file``; nothing if it has none."""
        with self._lock.write():
            n = self._allowed.get(file)
            if n is None:
                return
            if n <= 1:
                del self._allowed[file]
            else:
                self._allowed[file] = n - 1

    def is_allowed(self, file: Hashable) -> bool:
        with self._lock.read():
            return file in self._allowed

    def nr_allowed(self) -> int:
        with self._lock.read():
            return len(self._allowed)


class OffsetManager:
    """A range allocator over page offsets (``drm_vma_offset_manager``)."""

    __slots__ = ("_holes_by_size", "_holes_by_start", "_nodes", "first", "lock", "size")

    def __init__(self, first: int = DRM_FILE_PAGE_OFFSET_START,
                 size: int = DRM_FILE_PAGE_OFFSET_SIZE) -> None:
        self.lock = RwLock("drm.vma_offset_manager")
        self.first = first
        self.size = size
        self._nodes: Any = SortedDict()                       # start -> OffsetNode
        self._holes_by_start: Any = SortedDict({first: size})  # start -> npages
        self._holes_by_size: Any = SortedList([(size, first)])

    # -- add / remove -----------------------------------------------------------------------
    def add(self, node: OffsetNode, npages: int) -> None:
        """Give ``node`` ``npages`` offsets; nothing if it already has some.

        Raises: ENOSPC when no hole is large enough (or ``npages`` is 0).
        """
        with self.lock.write():
            if node.allocated:
                return
            if npages <= 0:
                raise ENOSPC("empty offset node")
            i = self._holes_by_size.bisect_left((npages, 0))
            if i == len(self._holes_by_size):
                raise ENOSPC(f"no hole of {npages} pages in the mmap offset space")
            hole_size, hole_start = self._holes_by_size[i]
            self._take_hole(hole_start, hole_size)
            if hole_size > npages:
                self._put_hole(hole_start + npages, hole_size - npages)
            node.start, node.npages = hole_start, npages
            self._nodes[hole_start] = node

    def remove(self, node: OffsetNode) -> None:
        """Give ``node``'s offsets back; nothing if it has none."""
        with self.lock.write():
            if not node.allocated:
                return
            if self._nodes.get(node.start) is not node:
                raise SimBug(f"{node!r} is not in this offset manager")
            del self._nodes[node.start]
            self._free_range(node.start, node.npages)
            node.start = node.npages = 0

    def _free_range(self, start: int, npages: int) -> None:
        """Return ``[start, start+npages)`` to the holes, merging with both neighbours."""
        holes = self._holes_by_start
        i = holes.bisect_left(start)
        if i > 0:
            prev_start, prev_size = holes.peekitem(i - 1)
            if prev_start + prev_size == start:
                self._take_hole(prev_start, prev_size)
                start, npages = prev_start, npages + prev_size
        nxt = holes.get(start + npages)
        if nxt is not None:
            self._take_hole(start + npages, nxt)
            npages += nxt
        self._put_hole(start, npages)

    def _take_hole(self, start: int, npages: int) -> None:
        del self._holes_by_start[start]
        self._holes_by_size.remove((npages, start))

    def _put_hole(self, start: int, npages: int) -> None:
        self._holes_by_start[start] = npages
        self._holes_by_size.add((npages, start))

    # -- lookup -----------------------------------------------------------------------------
    def exact_lookup_locked(self, pgoff: int, npages: int) -> OffsetNode | None:
        """The node starting exactly at ``pgoff`` and spanning at least ``npages``
        (``drm_vma_offset_exact_lookup_locked``); caller holds ``lock`` for read."""
        node: OffsetNode | None = self._nodes.get(pgoff)
        if node is None or npages > node.npages:
            return None
        return node

    def exact_lookup(self, pgoff: int, npages: int) -> OffsetNode | None:
        with self.lock.read():
            return self.exact_lookup_locked(pgoff, npages)

    def lookup_locked(self, pgoff: int, npages: int) -> OffsetNode | None:
        """The node containing ``[pgoff, pgoff+npages)`` (``drm_vma_offset_lookup_locked``)."""
        i = self._nodes.bisect_right(pgoff)
        if i == 0:
            return None
        node: OffsetNode = self._nodes.peekitem(i - 1)[1]
        return node if pgoff + npages <= node.start + node.npages else None

    # -- accounting -------------------------------------------------------------------------
    def nr_nodes(self) -> int:
        """Allocated nodes (a leak counter: zero once every object is freed)."""
        return len(self._nodes)

    def nr_free_pages(self) -> int:
        with self.lock.read():
            return sum(self._holes_by_start.values())
