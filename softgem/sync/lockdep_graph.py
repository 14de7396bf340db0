"""The global lock-dependency graph: "a lock of class A was held while one of class B was taken".

Nodes are (lock class name, subclass) pairs, so ``mutex_lock_nested``-style subclasses are
distinct nodes, as in the kernel.  Adding the edge ``prev -> next`` first searches (breadth
first, so the reported path is a shortest one) for a path ``next -> ... -> prev``: if there
is one, the two orders together can deadlock, however the threads happened to interleave.

Every acquisition counts as a full dependency, reads included.  The kernel's recursive-read
edge types (where two readers of an ``rwlock_t`` never wait for each other) were rejected:
here an ``RwLock`` reader that does not already hold the lock queues behind a waiting
writer, so "R read, then M" against "M, then R read" is a real deadlock, as it is for
process-context ``rwlock_t`` in current kernels.  Only a thread re-reading an RwLock it
already holds is exempt, and that is handled before the graph (no edge is added).

Edges are only ever added, under ``_lock``; the lock-free fast path in :meth:`LockGraph.add`
reads the adjacency dicts under the GIL, and a miss there is re-checked under the lock.
An edge that would close a cycle is *not* added (the graph stays acyclic, so every later
search stays meaningful) but remembered, so the same bad order is reported once and then
costs one set lookup.  A rejected alternative: one global order index per class (cheaper,
but it cannot explain a cycle with both chains).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from .lockdep_held import Chain, Key

__all__ = ["Cycle", "LockGraph"]


@dataclass(frozen=True, slots=True)
class Cycle:
    """A would-be edge ``prev -> next`` and the existing path ``next -> ... -> prev``."""

    prev: Key
    next: Key
    path: tuple[Key, ...]               # next, ..., prev
    path_chains: tuple[Chain, ...]      # one per edge of ``path``


class LockGraph:
    """Dependency edges between lock classes, with the first chain that created each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._adj: dict[Key, dict[Key, None]] = {}      # insertion-ordered successor sets
        self._chains: dict[tuple[Key, Key], Chain] = {}
        self._rejected: set[tuple[Key, Key]] = set()

    def clear(self) -> None:
        with self._lock:
            self._adj.clear()
            self._chains.clear()
            self._rejected.clear()

    def edges(self) -> list[tuple[Key, Key]]:
        """Every recorded edge, in the order first seen."""
        with self._lock:
            return list(self._chains)

    def chain(self, prev: Key, nxt: Key) -> Chain | None:
        return self._chains.get((prev, nxt))

    def add(self, prev: Key, nxt: Key, chain: Callable[[], Chain]) -> Cycle | None:
        """Record ``prev -> nxt``; return the cycle instead if the edge would close one.

        ``chain`` is called only when the edge is new, to capture its evidence.  A bad order
        is returned once; later attempts at the same edge return None without searching.
        """
        if self._known(prev, nxt):
            return None
        with self._lock:
            if self._known(prev, nxt):
                return None
            path = self._find_path(nxt, prev)
            if path is not None:
                self._rejected.add((prev, nxt))
                chains = tuple(self._chains[(a, b)] for a, b in pairwise(path))
                return Cycle(prev, nxt, tuple(path), chains)
            self._adj.setdefault(prev, {})[nxt] = None
            self._chains[(prev, nxt)] = chain()
            return None

    def _known(self, prev: Key, nxt: Key) -> bool:
        succ = self._adj.get(prev)
        return (succ is not None and nxt in succ) or (prev, nxt) in self._rejected

    def _find_path(self, start: Key, target: Key) -> list[Key] | None:
        """A shortest path ``start -> ... -> target``, or None."""
        parent: dict[Key, Key | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for succ in self._adj.get(node, {}):
                if succ in parent:
                    continue
                parent[succ] = node
                if succ == target:
                    path: list[Key] = []
                    cur: Key | None = succ
                    while cur is not None:
                        path.append(cur)
                        cur = parent[cur]
                    path.reverse()
                    return path
                queue.append(succ)
        return None
