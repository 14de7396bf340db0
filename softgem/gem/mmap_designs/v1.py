"""mmap-v1: the multi-mmap-offset series as first posted (Abdiel Janulgue, 26 Aug 2019,
"[1/5] drm/i915: Allow i915 to manage the vma offset nodes instead of drm core"; seed 002).

What the patch does, as modelled here:

* every MMAP_GTT / MMAP_OFFSET call allocates a new :class:`MmoV1` (``kzalloc``) with its
  own node, open to the calling file only (``drm_vma_node_allow``), refcounted (``kref``,
  1 for the creation) and put on the object's ``mmap_offsets`` list under the object's
  ``mmo_lock`` mutex;
* ``i915_gem_mmap`` looks the node up under the offset manager's lock and takes an *object*
  reference (``kref_get_unless_zero``), drops the lock, and only then checks the allow list
  and, at the very end, takes the offset's reference (``kref_get(&mmo->ref)``);
* a VMA holds an object reference and an offset reference (``vm_open`` takes both,
  ``vm_close`` puts the offset's under ``mmo_lock``, then the object's);
* GEM_CLOSE puts the creation reference of every offset of the closing file; the last put
  revokes the file, removes the node, unlinks and frees the offset;
* revoking a GGTT view's user mappings (``i915_vma_revoke_mmap``, and the reset's
  ``revoke_mmaps``) walks the object's list *without* ``mmo_lock`` and zaps every GTT
  offset.

The two review points (seed 002, Chris Wilson) follow:

=================  ===========================================  ==========================
thread A           thread B                                     (mmap vs gem_close)
=================  ===========================================  ==========================
mmap(fd, off(A)):  .                                            .
 lookup node,      .                                            .
 get obj, unlock   GEM_CLOSE(A): put mmo -> node removed,       .
                   unlinked, freed                              .
 is_allowed(node)  .                                            use after free
=================  ===========================================  ==========================

=====================================  ===========================  ======================
reset (revoke_mmaps)                   MMAP_OFFSET(A) / GEM_CLOSE   (revoke on reset)
=====================================  ===========================  ======================
walk obj->mmap_offsets (no mmo_lock):  .                            .
 zap mmo X                             list_add(new) / list_del(X)  data race / use after
 X->next                               (under mmo_lock)             free
=====================================  ===========================  ======================

The race of the unlocked walk with a writer is reported to the explorer's checkers as a
``data-race`` event (the KCSAN-style report: a list writer ran while a reader that does not
hold the writers' lock was between two of its loads); reading a freed offset raises SimBug.

Not modelled: the retry of ``create_mmap_offset`` that reaps dead objects on ENOSPC; that
``mmo->obj`` and ``mmo->mmap_type`` are assigned after the offset is on the list (the
unlocked walker reads neither before the zap; kzalloc makes the type GTT meanwhile); patch
1's single vm_ops for every type (the fault handlers here are today's, per type).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from ... import trace
from ...errors import EACCES, EINVAL, SimBug
from ...sync import Kref, Mutex, task
from ...units import PAGE_SHIFT
from ..mman import I915_MMAP_TYPE_GTT, MMAP_TYPE_NAMES, MmapOffset, zap_node
from ..offsets import OffsetNode
from . import register

if TYPE_CHECKING:
    from ...mm import Vma
    from ..device import GemDevice
    from ..file import DrmFile
    from ..object import GemObject

__all__ = ["MmoList", "MmoRef", "MmoV1", "V1"]


class MmoRef(Kref):
    """``mmo->ref``.  A get on a count that reached 0 is what the kernel's refcount_t reports
    as "addition on 0; use-after-free": the offset is being (or has been) released."""

    __slots__ = ()

    def get(self) -> None:
        try:
            super().get()
        except SimBug as e:
            raise SimBug("refcount_t: addition on 0; use-after-free: kref_get of an mmap "
                         "offset whose last reference is gone (it is being freed)") from e


class MmoV1(MmapOffset):
    """``struct i915_mmap_offset`` of the patch: one offset of one file, refcounted, linked."""

    __slots__ = ("file", "next", "prev", "ref")

    def __init__(self, obj: GemObject, mmap_type: int, file: DrmFile | None) -> None:
        super().__init__(obj, mmap_type)
        self.file = file
        self.ref = MmoRef()
        self.next: Any = None
        self.prev: Any = None


class FreedMmo(MmoV1):
    """What a freed :class:`MmoV1` becomes (``kfree``): every access is a bug."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name == "__class__":
            return object.__getattribute__(self, name)
        raise SimBug(f"use of a freed mmap offset (attribute {name!r})")

    def __repr__(self) -> str:
        return "<freed MmapOffset>"


class FreedNode(OffsetNode):
    """The node embedded in a freed offset (``mmo->vma_node``)."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name == "__class__":
            return object.__getattribute__(self, name)
        raise SimBug(f"use of a freed mmap offset's node (attribute {name!r})")

    def __repr__(self) -> str:
        return "<freed OffsetNode>"


class MmoList:
    """``obj->mmap_offsets`` (a ``list_head``) and ``obj->mmo_lock``.

    Writers hold ``mutex``.  :meth:`walk_unlocked` is the revocation's walk without it: while
    one runs, a writer in another task is a data race, reported as a ``data-race`` event.
    """

    __slots__ = ("mutex", "next", "prev", "walkers")

    def __init__(self) -> None:
        self.mutex = Mutex("gem.object.mmo_mutex")
        self.next: Any = self
        self.prev: Any = self
        self.walkers: dict[int, str] = {}      # task ident -> name, inside an unlocked walk

    def _write(self, what: str, mmo: MmoV1) -> None:
        me = task.ident()
        others = [name for ident, name in self.walkers.items() if ident != me]
        if others:
            task.observe("data-race", self,
                         f"{what} on obj#{mmo.obj.id}'s mmap_offsets list (under its "
                         f"mmo_lock) while task {others[0]} walks the list without that lock "
                         "(revoking GTT mmaps)")

    def add(self, mmo: MmoV1) -> None:
        """``list_add`` (at the head); caller holds ``mutex``."""
        self._write("list_add", mmo)
        mmo.next, mmo.prev = self.next, self
        self.next.prev = mmo
        self.next = mmo

    def delete(self, mmo: MmoV1) -> None:
        """``list_del``; caller holds ``mutex``."""
        self._write("list_del", mmo)
        mmo.prev.next = mmo.next
        mmo.next.prev = mmo.prev

    def entries(self) -> list[MmoV1]:
        """``list_for_each_entry_safe``'s order; caller holds ``mutex``."""
        out: list[MmoV1] = []
        pos = self.next
        while pos is not self:
            out.append(pos)
            pos = pos.next
        return out

    def walk_unlocked(self) -> Iterator[MmoV1]:
        """``list_for_each_entry`` without ``mutex``: each step loads ``pos->next`` after the
        caller has used ``pos``."""
        me = task.ident()
        self.walkers[me] = task.task_name()
        try:
            pos = self.next
            while pos is not self:
                yield pos
                task.schedule_point("mmo_list.next", self)
                pos = pos.next
        finally:
            self.walkers.pop(me, None)


def _list(obj: GemObject) -> MmoList:
    lst: MmoList = obj.mmo
    return lst


def _release(mmo: MmoV1) -> None:
    """``i915_mmap_offset_object_release``, the last put; caller holds the list's mutex."""
    obj = mmo.obj
    if mmo.file is not None:
        mmo.node.revoke(mmo.file)
    obj.dev.offsets.remove(mmo.node)
    _list(obj).delete(mmo)
    if trace.enabled:
        trace.emit("gem", "mmap_offset_free", obj=obj.id, type=MMAP_TYPE_NAMES[mmo.mmap_type])
    node = mmo.node
    object.__setattr__(node, "__class__", FreedNode)
    object.__setattr__(mmo, "__class__", FreedMmo)


class V1:
    name = "mmap-v1"

    def init_object(self) -> Any:
        return MmoList()

    def attach(self, obj: GemObject, mmap_type: int, file: DrmFile | None) -> MmapOffset:
        mmo = MmoV1(obj, mmap_type, file)
        if file is not None:
            mmo.node.allow(file)
        obj.dev.offsets.add(mmo.node, obj.size >> PAGE_SHIFT)
        lst = _list(obj)
        with lst.mutex:
            lst.add(mmo)
        if trace.enabled:
            trace.emit("gem", "mmap_offset", obj=obj.id, type=MMAP_TYPE_NAMES[mmap_type],
                       offset=mmo.node.offset_addr())
        return mmo

    def lookup(self, dev: GemDevice, file: DrmFile, pgoff: int,
               npages: int) -> tuple[GemObject, MmapOffset]:
        offsets = dev.offsets
        obj: GemObject | None = None
        with offsets.lock.read():
            node = offsets.exact_lookup_locked(pgoff, npages)
            if node is not None:
                mmo: MmoV1 = node.owner
                obj = mmo.obj.get_unless_zero()
        if obj is None or node is None:
            raise EINVAL(f"no mmap offset node at page {pgoff:#x} (+{npages})")
        # The lookup lock is dropped: nothing keeps the offset (and its node) alive now.
        if not node.is_allowed(file):
            obj.put()
            raise EACCES(f"{node!r} is not mappable by this file")
        return obj, mmo

    def mmap_attached(self, vma: Vma, mmo: MmapOffset) -> None:
        """The offset's reference for the VMA, taken last (``kref_get(&mmo->ref)``)."""
        assert isinstance(mmo, MmoV1)
        mmo.ref.get()

    def vm_open(self, vma: Vma) -> None:
        mmo: MmoV1 = vma.private
        mmo.obj.get()
        mmo.ref.get()

    def vm_close(self, vma: Vma) -> None:
        mmo: MmoV1 = vma.private
        obj = mmo.obj
        with _list(obj).mutex:
            mmo.ref.put(partial(_release, mmo))
        obj.put()

    def close_object(self, obj: GemObject, file: DrmFile) -> None:
        lst = _list(obj)
        with lst.mutex:
            for mmo in lst.entries():
                if mmo.file is file:
                    mmo.ref.put(partial(_release, mmo))

    def free_object(self, obj: GemObject) -> None:
        lst = _list(obj)
        with lst.mutex:
            for mmo in lst.entries():
                mmo.ref.put(partial(_release, mmo))

    def offsets(self, obj: GemObject) -> list[MmapOffset]:
        lst = _list(obj)
        with lst.mutex:
            return list(lst.entries())

    def zap(self, obj: GemObject) -> None:
        """``__i915_gem_object_release_mmap``'s walk: under the mutex."""
        lst = _list(obj)
        with lst.mutex:
            for mmo in lst.entries():
                zap_node(obj, mmo.node)

    def revoke_nodes(self, obj: GemObject, node: OffsetNode | None) -> Iterator[OffsetNode]:
        for mmo in _list(obj).walk_unlocked():
            if mmo.node.allocated and mmo.mmap_type == I915_MMAP_TYPE_GTT:
                yield mmo.node


register("mmap-v1", V1)
