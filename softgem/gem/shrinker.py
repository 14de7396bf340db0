"""Purgeable objects and the shrinker: MADVISE, truncation, and giving pages back under pressure.

``madvise`` marks an object's backing store as disposable (DONTNEED) or wanted (WILLNEED).  A
DONTNEED object without pages is truncated at once; one with pages keeps them until the
shrinker runs, which puts the pages of unpinned shrinkable objects -- DONTNEED ones first,
truncating them (madv becomes PURGED for good) -- and, in a second phase, of every other
shrinkable object (shmem keeps its frames as its "swap"; userptr unpins the user pages).
Putting pages zaps the CPU mmaps of the object (``GemObject.put_pages_locked``), so the next
access faults and gets pages again -- or SIGBUS for a purged object.

The lists (``i915->mm.shrink_list`` / ``purge_list``, merged here into one LRU ordered by
when an object got its pages; the purge phase picks the DONTNEED ones):

=================  ==========================================  ===========================
who                what                                        under
=================  ==========================================  ===========================
track(obj)         object got pages: append (idempotent)       ``gem.shrinker_lists`` spin
untrack(obj)       object put its pages or is freed: remove    ``gem.shrinker_lists`` spin
shrink()           take a reference (get_unless_zero) on each  ``gem.shrinker_lists`` spin,
                   candidate under the spinlock, then work on  then each object's lock by
                   them with the spinlock dropped               *trylock* only
=================  ==========================================  ===========================

Why references are taken under the list lock: an object is untracked before it is freed and
poisoned, and untracking needs the list lock, so a candidate seen under the lock is never a
freed object; ``get_unless_zero`` skips one whose last reference is already gone.  Why
trylock: the shrinker runs from inside ``get_pages`` of another object (allocation failure),
with that object's lock held; waiting for object locks there could deadlock, so a busy
object is skipped, as ``i915_gem_shrink(NULL, ...)`` does.

Rejected alternative: walking every file's handle table to find candidates -- it misses
objects kept alive only by a mapping or a dma-buf, and it takes the per-file table locks in an
order the ioctls do not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import trace
from ..errors import EINVAL
from ..sync import SpinLock
from ..units import PAGE_SHIFT
from .ops import MADV_DONTNEED, MADV_PURGED, MADV_WILLNEED, ObjectFlags

if TYPE_CHECKING:
    from .device import GemDevice
    from .file import DrmFile
    from .object import GemObject

__all__ = ["ShrinkLists", "madvise", "shrink", "shrink_all", "track", "truncate", "untrack", "nr_tracked"]


class ShrinkLists:
    """The shrinkable objects of one device that currently have pages, oldest first.

    One per device (``GemDevice.shrink_lists``), so a dropped device takes its lists along.
    """

    __slots__ = ("lock", "objects")

    def __init__(self) -> None:
        self.lock = SpinLock("gem.shrinker_lists")
        self.objects: dict[int, GemObject] = {}   # obj.id -> obj, insertion = LRU order


def _lists(dev: GemDevice) -> ShrinkLists:
    return dev.shrink_lists


def track(obj: GemObject) -> None:
    """The object got pages: make it visible to the shrinker (``__i915_gem_object_set_pages``).

    Idempotent; objects of kinds that are not shrinkable are ignored.
    """
    if not obj.flags & ObjectFlags.IS_SHRINKABLE:
        return
    lists = _lists(obj.dev)
    with lists.lock:
        lists.objects.setdefault(obj.id, obj)


def untrack(obj: GemObject) -> None:
    """The object's pages were put (or it is being freed): hide it from the shrinker.

    The unlocked membership test is safe: track and untrack of one object both run under
    its lock (or after its last reference is gone), so they never race each other.
    """
    lists = _lists(obj.dev)
    if obj.id not in lists.objects:
        return
    with lists.lock:
        lists.objects.pop(obj.id, None)


def nr_tracked(dev: GemDevice) -> int:
    """How many objects the shrinker could look at now (a leak counter for tests)."""
    lists = _lists(dev)
    with lists.lock:
        return len(lists.objects)


# -- truncation ----------------------------------------------------------------------------------
def truncate(obj: GemObject) -> None:
    """Discard the backing store of a DONTNEED object (``i915_gem_object_truncate``).

    Only kinds with a ``truncate`` op (shmem) can discard; for the others (userptr) the object
    stays DONTNEED and its ``get_pages`` keeps failing with EFAULT.  Caller holds ``obj.lock``
    and the object has no pages.
    """
    op: Callable[[GemObject], None] | None = getattr(obj.ops, "truncate", None)
    if op is not None:
        op(obj)
        if trace.enabled:
            trace.emit("gem", "purge", obj=obj.id)


# -- MADVISE ---------------------------------------------------------------------------------------
def madvise(dev: GemDevice, file: DrmFile, handle: int, madv: int) -> bool:
    """I915_GEM_MADVISE: set WILLNEED (0) or DONTNEED (1); returns ``retained``.

    Raises EINVAL for any other advice (before the lookup), ENOENT for a bad handle.  A purged
    object stays purged and reports ``retained`` False forever.
    """
    if madv not in (MADV_WILLNEED, MADV_DONTNEED):
        raise EINVAL(f"madvise {madv}")
    obj = file.lookup(handle)
    obj_id = obj.id
    try:
        with obj.lock:
            if obj.madv != MADV_PURGED:
                obj.madv = madv
            # No pages attached: nothing left to protect, discard the store at once.
            if obj.madv == MADV_DONTNEED and not obj.has_pages():
                truncate(obj)
            retained = obj.madv != MADV_PURGED
    finally:
        obj.put()
    if trace.enabled:
        trace.emit("gem", "madvise", obj=obj_id, madv=madv, retained=retained)
    return retained


# -- the shrinker ------------------------------------------------------------------------------------
def _candidates(dev: GemDevice, purge: bool) -> list[GemObject]:
    """Referenced candidates of one phase, in LRU order (see the table above)."""
    lists = _lists(dev)
    out: list[GemObject] = []
    with lists.lock:
        for obj in lists.objects.values():
            if purge and obj.madv != MADV_DONTNEED:
                continue
            if obj.kref.get_unless_zero():
                out.append(obj)
    return out


def _drop_pages(obj: GemObject) -> int:
    """Try to put one object's pages; the number of pages released (0 if it was skipped)."""
    if not obj.lock.trylock():
        return 0
    try:
        if obj.pages is None or obj.pages_pin_count:
            return 0
        # I915_SHRINK_BOUND without ACTIVE: idle GPU bindings are dropped, busy ones keep
        # their pages pinned and put_pages_locked below refuses.
        obj.unbind(wait=False)
        if not obj.put_pages_locked():
            return 0  # still pinned (a binding that could not be dropped)
        untrack(obj)  # kinds whose put_pages does not untrack themselves (userptr)
        if obj.madv == MADV_DONTNEED:
            truncate(obj)
        return obj.size >> PAGE_SHIFT
    finally:
        obj.lock.unlock()


def shrink(dev: GemDevice, nr_pages: int, *, purge_only: bool = False) -> int:
    """Release up to ``nr_pages`` pages of backing storage (``i915_gem_shrink``).

    Phase one purges DONTNEED objects; phase two (unless ``purge_only``) puts the pages of any
    other unpinned shrinkable object.  Objects whose lock is held elsewhere are skipped.
    Returns the number of pages released (whole objects, so it may exceed ``nr_pages``).
    """
    count = 0
    for purge in (True, False) if not purge_only else (True,):
        if count >= nr_pages:
            break
        for obj in _candidates(dev, purge):
            try:
                if count < nr_pages:
                    count += _drop_pages(obj)
            finally:
                obj.put()
    if trace.enabled:
        trace.emit("gem", "shrink", target=nr_pages, freed=count)
    return count


def shrink_all(dev: GemDevice) -> int:
    """Shrink everything that can be shrunk (``i915_gem_shrink_all``)."""
    return shrink(dev, 1 << 62)
