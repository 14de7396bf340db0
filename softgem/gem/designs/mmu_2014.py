"""The per-mm ``struct i915_mmu_notifier`` pieces of the 2014 designs: the object interval
(``i915_mmu_object``), the tree of objects with the kernel iterator's contract, and the
whole-mm notifier ops that hand every range to the design's walk."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import trace
from ...errors import SimBug

if TYPE_CHECKING:
    from ...mm import NotifierRange
    from ...notifier import MmuNotifier
    from ..object import GemObject

__all__ = ["MmuObject", "ObjectTree", "WholeMmOps", "emit_invalidate"]


class MmuObject:
    """``struct i915_mmu_object``: one object's interval ``[start, last]`` (inclusive)."""

    __slots__ = ("active", "attached", "cancel", "is_linear", "last", "obj", "start")

    def __init__(self, obj: GemObject, start: int, last: int) -> None:
        self.obj = obj
        self.start, self.last = start, last
        self.attached = False
        self.is_linear = False
        self.active = False             # v4.4: has pages (or is getting them): cancel it
        self.cancel: Any = None         # v4.4: the queued cancel_userptr work, if pending

    def overlaps(self, start: int, last: int) -> bool:
        return not (self.last < start or self.start > last)


class ObjectTree:
    """The notifier's interval tree (``rb_root objects``), as a start-ordered list with the
    kernel iterator's contract: ``iter_next`` continues from a node that must still be in
    the tree (a stale node is a use of freed memory, a NULL one a NULL dereference)."""

    __slots__ = ("_nodes",)

    def __init__(self) -> None:
        self._nodes: list[MmuObject] = []

    def __len__(self) -> int:
        return len(self._nodes)

    def insert(self, mo: MmuObject) -> None:
        self._nodes.append(mo)
        self._nodes.sort(key=lambda n: (n.start, n.last))

    def remove(self, mo: MmuObject) -> None:
        self._nodes.remove(mo)

    def iter_first(self, start: int, last: int) -> MmuObject | None:
        return next((n for n in self._nodes if n.overlaps(start, last)), None)

    def iter_next(self, node: MmuObject | None, start: int, last: int) -> MmuObject | None:
        if node is None:
            raise SimBug("NULL pointer dereference in interval_tree_iter_next (a cached "
                         "iterator that was never set)")
        try:
            i = self._nodes.index(node)
        except ValueError:
            raise SimBug("interval_tree_iter_next from a node freed out of the tree") from None
        return next((n for n in self._nodes[i + 1:] if n.overlaps(start, last)), None)

    def nodes(self) -> list[MmuObject]:
        return list(self._nodes)


class WholeMmOps:
    """The ``mmu_notifier_ops`` of an ``i915_mmu_notifier``: only invalidate_range_start."""

    __slots__ = ("mn",)

    def __init__(self, mn: Any) -> None:
        self.mn = mn

    def invalidate_range_start(self, sub: MmuNotifier, rng: NotifierRange) -> bool:
        self.mn.design.invalidate(self.mn, rng)
        return True

    def invalidate_range_end(self, sub: MmuNotifier, rng: NotifierRange) -> None:
        return None

    def release(self, sub: MmuNotifier, mm: Any) -> None:
        return None


def emit_invalidate(obj_id: int, rng: NotifierRange) -> None:
    if trace.enabled:
        trace.emit("userptr", "invalidate", obj=obj_id, start=rng.start, end=rng.end,
                   event=rng.event.name, seq=0)
