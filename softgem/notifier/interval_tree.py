"""The interval index behind ``mmu_interval_notifier``: half-open ``[start, end)`` intervals.

Design note
-----------
The kernel keeps interval notifiers in an augmented red-black tree (``interval_tree.h``:
each node caches the largest ``last`` of its subtree).  That is the right structure in C.  In
CPython every node visit is a handful of interpreted attribute loads, and the question asked
on the hot path -- "does anything overlap the range ``munmap`` is about to tear down?" -- is
nearly always answered "no".  So the index is built to answer a miss with a few calls into C
(``bisect``) and nothing else.

Chosen: **length classes of sorted runs.**  Intervals are partitioned by the bit length of
their size: class ``c`` holds lengths in ``[2**c, 2**(c+1))``.  Within a class an interval
overlapping ``[s, e)`` must start in ``(s - 2**(c+1), e)``, so one ``bisect`` finds the first
candidate and a scan that stops at the first start ``>= e`` collects the rest.  Each class is
a list of sorted chunks (the layout ``sortedcontainers`` uses: bisect on the chunk maxima,
then inside a chunk), which keeps insert/remove at O(log n) amortised with C-speed moves.
Keys are ``(start, uid, end, node)`` tuples, so every comparison runs in C and the unique
``uid`` (insertion order) breaks ties deterministically without comparing nodes.

Costs, with C occupied classes (1 or 2 in practice: userptr objects of similar sizes),
k hits, and d the same-class intervals that end in the class-length window just before
``s`` (all such intervals contain one common point, so d is bounded by the overlap depth
there, 15 in the 16-deep benchmark and 0 for disjoint intervals):
query O(C log n + k + d), insert/remove O(log n) amortised.

Measured at n = 100k intervals of 64 KiB (CPython 3.11, the 2-core reference box): a miss
query costs ~0.7 us (~1.5 us when one neighbour is a false candidate), an insert ~5 us.

Rejected alternatives
---------------------
* An augmented balanced tree (rb/AVL/treap with a subtree max-end): exact O(log n + k), but
  a miss between intervals walks ~2 log2(n) = 34 nodes in interpreted code.  A treap
  prototype measured ~7 us per such miss and ~17 us per insert at the same n.
* ``bisect`` over one sorted list of starts plus a global max-length bound: the same fast
  miss, but one long interval (a 1 GiB userptr among 64 KiB ones) widens every query's
  window to 1 GiB of candidates; length classes confine that cost to the long class.
* ``sortedcontainers.SortedList`` itself: its ``irange``/positional API builds generators
  and walks its positional index on every query, which costs more than the whole query here.
* A segment tree / bitmap over the address space: the space is 2**47 bytes, so it needs
  coordinate compression, which makes inserts O(n).

Intervals are half-open throughout: ``[a, b)`` and ``[b, c)`` do not overlap (the kernel
stores an inclusive ``last = end - 1``; nothing here does).  The index does no locking:
its owner serialises it (``notifier.subscriptions_lock``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from ..errors import SimBug

__all__ = ["IntervalNode", "IntervalTree"]

# Chunk size of a sorted run: chunks split at 2 * _LOAD and merge below _LOAD // 4.
_LOAD = 512

# (start, uid, end, node): compared in C; uid is unique so node is never compared.
_Key = tuple[int, int, int, Any]


class IntervalNode:
    """An interval that can sit in one :class:`IntervalTree` (``struct interval_tree_node``).

    Embed it by subclassing, as the kernel embeds ``interval_tree_node`` in its owner.
    ``start``/``end`` must not change while the node is in a tree.
    """

    __slots__ = ("_it_key", "end", "start")

    def __init__(self, start: int = 0, end: int = 0) -> None:
        self.start = start
        self.end = end
        self._it_key: _Key | None = None

    @property
    def in_tree(self) -> bool:
        """Whether the node is in a tree (the kernel's ``!RB_EMPTY_NODE``)."""
        return self._it_key is not None


class _Run:
    """One length class: intervals of length in ``[2**cls, 2**(cls+1))``, sorted by start.

    ``chunks[i]`` holds the keys, ``starts[i]`` the same starts as plain ints (bisecting
    ints is several times cheaper than bisecting tuples), ``maxstarts[i]`` the largest
    start in chunk ``i``.
    """

    __slots__ = ("chunks", "cls", "maxstarts", "size", "span", "starts")

    def __init__(self, cls: int) -> None:
        self.cls = cls
        # A candidate for [s, e) starts at or after s - span (its length is < 2**(cls+1)).
        self.span = (2 << cls) - 1
        self.chunks: list[list[_Key]] = []
        self.starts: list[list[int]] = []
        self.maxstarts: list[int] = []
        self.size = 0

    def add(self, key: _Key) -> None:
        start = key[0]
        maxstarts = self.maxstarts
        self.size += 1
        if not maxstarts:
            self.chunks.append([key])
            self.starts.append([start])
            maxstarts.append(start)
            return
        # After every equal start: uids grow, so this keeps (start, uid) order.
        i = bisect_right(maxstarts, start)
        if i == len(maxstarts):
            i -= 1
            maxstarts[i] = start
        starts = self.starts[i]
        j = bisect_right(starts, start)
        starts.insert(j, start)
        self.chunks[i].insert(j, key)
        if len(starts) > 2 * _LOAD:
            self._split(i)

    def _split(self, i: int) -> None:
        chunk, starts = self.chunks[i], self.starts[i]
        self.chunks.insert(i + 1, chunk[_LOAD:])
        self.starts.insert(i + 1, starts[_LOAD:])
        del chunk[_LOAD:]
        del starts[_LOAD:]
        self.maxstarts.insert(i, starts[-1])

    def discard(self, key: _Key) -> None:
        chunks = self.chunks
        i = bisect_left(self.maxstarts, key[0])
        # Equal starts may straddle chunks: walk right to the chunk holding the key.
        while i < len(chunks) and chunks[i][-1] < key:
            i += 1
        chunk = chunks[i] if i < len(chunks) else []
        j = bisect_left(chunk, key)
        if j == len(chunk) or chunk[j] is not key:
            raise SimBug(f"interval [{key[0]:#x}, {key[2]:#x}) is not in its length class")
        starts = self.starts[i]
        del chunk[j]
        del starts[j]
        self.size -= 1
        if not chunk:
            del chunks[i]
            del self.starts[i]
            del self.maxstarts[i]
            return
        if j == len(chunk):
            self.maxstarts[i] = starts[-1]
        if len(chunk) < _LOAD // 4 and len(chunks) > 1:
            self._merge(i)

    def _merge(self, i: int) -> None:
        """Fold chunk ``i`` into a neighbour so chunks do not fragment under removals."""
        if i + 1 == len(self.chunks):
            i -= 1
        self.chunks[i].extend(self.chunks.pop(i + 1))
        self.starts[i].extend(self.starts.pop(i + 1))
        self.maxstarts[i] = self.maxstarts.pop(i + 1)
        if len(self.chunks[i]) > 2 * _LOAD:
            self._split(i)

    def collect(self, start: int, end: int, out: list[_Key]) -> None:
        """Append the keys overlapping ``[start, end)``, in start order."""
        lo = start - self.span
        maxstarts = self.maxstarts
        i = bisect_left(maxstarts, lo)
        if i == len(maxstarts):
            return
        starts = self.starts[i]
        j = bisect_left(starts, lo)
        if starts[j] >= end:
            return  # the common case: no candidate at all
        chunks = self.chunks
        chunk = chunks[i]
        while True:
            for k in range(j, len(chunk)):
                key = chunk[k]
                if key[0] >= end:
                    return
                if key[2] > start:
                    out.append(key)
            i += 1
            if i == len(chunks):
                return
            chunk = chunks[i]
            j = 0

    def all_keys(self) -> Iterator[_Key]:
        for chunk in self.chunks:
            yield from chunk


N = TypeVar("N", bound=IntervalNode)


class IntervalTree(Generic[N]):
    """A set of half-open intervals (nodes) with overlap queries.  Not thread-safe."""

    __slots__ = ("_by_cls", "_runs", "_uid")

    def __init__(self) -> None:
        self._runs: list[_Run] = []          # occupied length classes, ascending
        self._by_cls: dict[int, _Run] = {}
        self._uid = 0

    def __len__(self) -> int:
        return sum(run.size for run in self._runs)

    def __bool__(self) -> bool:
        return bool(self._runs)

    def insert(self, node: N) -> None:
        """Add ``node`` (``interval_tree_insert``).  O(log n) amortised."""
        start, end = node.start, node.end
        if node._it_key is not None:
            raise SimBug(f"interval [{start:#x}, {end:#x}) inserted twice")
        if not 0 <= start < end:
            raise SimBug(f"empty, inverted or negative interval [{start:#x}, {end:#x})")
        self._uid += 1
        key: _Key = (start, self._uid, end, node)
        cls = (end - start).bit_length() - 1
        run = self._by_cls.get(cls)
        if run is None:
            run = self._by_cls[cls] = _Run(cls)
            self._runs.append(run)
            self._runs.sort(key=lambda r: r.cls)
        run.add(key)
        node._it_key = key

    def remove(self, node: N) -> None:
        """Take ``node`` out (``interval_tree_remove``).  O(log n) amortised."""
        key = node._it_key
        if key is None:
            raise SimBug(f"interval [{node.start:#x}, {node.end:#x}) is not in a tree")
        cls = (key[2] - key[0]).bit_length() - 1
        run = self._by_cls.get(cls)
        if run is None:
            raise SimBug(f"interval [{key[0]:#x}, {key[2]:#x}) is not in this tree")
        run.discard(key)
        node._it_key = None
        if not run.size:
            del self._by_cls[cls]
            self._runs.remove(run)

    def overlapping(self, start: int, end: int) -> list[N]:
        """Every node overlapping ``[start, end)``, in (start, insertion) order.

        The hot path: with nothing overlapping this is one or two ``bisect`` calls per
        occupied length class.
        """
        runs = self._runs
        out: list[_Key] = []
        if len(runs) == 1:
            # The miss test of _Run.collect, inlined: this line is on every munmap's path.
            run = runs[0]
            lo = start - run.span
            maxstarts = run.maxstarts
            i = bisect_left(maxstarts, lo)
            if i == len(maxstarts):
                return []
            starts = run.starts[i]
            if starts[bisect_left(starts, lo)] >= end:
                return []
            run.collect(start, end, out)
        else:
            classes_hit = 0
            for run in runs:
                before = len(out)
                run.collect(start, end, out)
                classes_hit += len(out) > before
            if classes_hit > 1:
                out.sort()  # hits from several classes: restore the tree's start order
        return [key[3] for key in out]

    def __iter__(self) -> Iterator[N]:
        """All nodes in (start, insertion) order."""
        keys = sorted(key for run in self._runs for key in run.all_keys())
        return iter([key[3] for key in keys])
