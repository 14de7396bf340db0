"""v3.16: the original userptr as merged (v20 of "drm/i915: Introduce mapping of user pages
into video memory (userptr) ioctl"), before the fixes of 2014-2015.

* one ``i915_mmu_notifier`` per address space, found in a device hash under ``struct_mutex``,
  registered with ``mmap_lock`` held for write, counted by its objects (``count``) and
  unregistered by a worker when the last goes (the unregister may not run under
  ``struct_mutex``);
* creation takes ``mmap_lock`` (write) then ``struct_mutex`` to find or register the
  notifier, drops both, then adds the object to the tree under ``struct_mutex`` and the
  spinlock: an overlapping object is refused (EINVAL, or EAGAIN while its workers run);
* the callback walks the tree one object at a time: under the spinlock it continues from the
  cached iterator if the tree's ``serial`` did not change (else restarts), takes a reference
  on the object (``kref_get``: no check that the object is not already being freed), drops
  the spinlock, takes ``struct_mutex``, cancels the worker, unbinds (waiting for the GPU)
  and puts the pages;
* ``serial`` starts at 0, as the cached one: an invalidation before the first object is
  added continues from a NULL iterator (fixed by 6c308fecb4);
* put_pages releases one page per scatterlist entry, so coalesced pages keep their
  references (fixed by c479f4383e);
* ``user_size`` larger than the GTT is E2BIG (until c6d576cc57);
* the object is a user of its creator's address space (``get_task_mm``) until its release,
  which runs under ``struct_mutex``: the last ``mmput`` runs exit_mmap there (fixed by
  ad46cb533d), and a GTT mmap of the userptr keeps the address space alive forever;
* every fresh vma bind maps the pages for DMA again (fixed by e227330223);
* a superseded get_pages worker overwrites the current worker's pointer (68d6c84059);
* both takes of ``struct_mutex`` at creation are interruptible (281400ff0f).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import EAGAIN, EINTR, EINVAL
from ...notifier import MmuNotifier, mmu_notifier_register_locked, mmu_notifier_unregister
from ...sync import SpinLock, task
from ..pages import SgTable
from . import register
from .era2014 import Era2014, MmuObject, ObjectTree, WholeMmOps, emit_invalidate, era_state

if TYPE_CHECKING:
    from ...mm import NotifierRange
    from ..object import GemObject

__all__ = ["V3_16", "MmuNotifier316", "UserptrV16"]


class MmuNotifier316:
    """``struct i915_mmu_notifier`` of v3.16."""

    def __init__(self, design: V3_16, mm: Any, serial: int) -> None:
        self.design = design
        self.mm = mm
        self.lock = SpinLock("i915.mmu_notifier.lock")
        self.objects = ObjectTree()
        self.count = 0
        self.serial = serial
        self.sub = MmuNotifier(WholeMmOps(self))


class V3_16(Era2014):
    name = "v3.16"
    user_size_limited = True
    update_only_current_worker = False      # until 68d6c84059
    dma_map_per_bind = True                 # until e227330223
    initial_serial = 0                      # 1 after 6c308fecb4
    overlap_eagain = True                   # v17 of the patch

    def __init__(self) -> None:
        super().__init__()
        self.mmu_notifiers: dict[int, MmuNotifier316] = {}   # under struct_mutex

    # -- creation --------------------------------------------------------------------------
    def _notifier_get(self, dev: Any, mm: Any) -> MmuNotifier316:
        """``i915_mmu_notifier_get`` (mmap_lock for write and struct_mutex held); the
        registration fails with EINTR when a signal is pending (``mm_take_all_locks``; the
        fault point ``userptr.signal_pending``) and nothing is kept."""
        mn = self.mmu_notifiers.get(id(mm))
        if mn is None:
            if dev.faults.hit("userptr.signal_pending"):
                raise EINTR("mm_take_all_locks: a signal is pending")
            mn = MmuNotifier316(self, mm, self.initial_serial)
            dev.faults.run("userptr.mm_take_all_locks", mm)
            mmu_notifier_register_locked(mn.sub, mm)
            self.mmu_notifiers[id(mm)] = mn
        return mn

    def init_mmu_notifier(self, obj: GemObject, mm: Any) -> None:
        """``get_task_mm`` (the object is one more user of the address space, until its
        release: ad46cb533d), then ``i915_gem_userptr_init__mmu_notifier``: both takes of
        struct_mutex are interruptible (until 281400ff0f)."""
        mmget = getattr(mm, "mmget", None)
        if mmget is not None:
            mmget()
            era_state(obj).mm_users = True
        self._init_mmu_notifier(obj, mm)

    def _init_mmu_notifier(self, obj: GemObject, mm: Any) -> None:
        with mm.mmap_lock.write():
            self.mutex_lock_interruptible(obj.dev)
            try:
                mn = self._notifier_get(obj.dev, mm)
                mn.count += 1               # a preemptive reference for this object
            finally:
                self.struct_mutex.unlock()
        mo = MmuObject(obj, era_state(obj).ptr, era_state(obj).ptr + obj.size - 1)
        try:
            self._notifier_add(obj.dev, mn, mo)
        except BaseException:
            with self.struct_mutex:
                self._notifier_put(mn)
            raise
        era_state(obj).mmu_object = mo

    def _notifier_add(self, dev: Any, mn: MmuNotifier316, mo: MmuObject) -> None:
        """``i915_mmu_notifier_add``: an overlap is refused; EAGAIN (v17 of the patch) when
        the object in the way is only kept alive by its get_pages workers."""
        self.mutex_lock_interruptible(dev)
        try:
            with mn.lock:
                other = mn.objects.iter_first(mo.start, mo.last)
                if other is not None:
                    if self.overlap_eagain and era_state(other.obj).workers:
                        raise EAGAIN("overlapping userptr still has get_pages workers")
                    raise EINVAL("overlapping userptr objects are not allowed")
                mn.objects.insert(mo)
                mo.attached = True
                mn.serial += 1
        except EAGAIN:
            self.struct_mutex.unlock()
            task.sleep("userptr.eagain", 1e-6)    # back to userspace before the restart
            raise
        except BaseException:
            self.struct_mutex.unlock()
            raise
        self.struct_mutex.unlock()

    def _notifier_put(self, mn: MmuNotifier316) -> None:
        """Drop an object's count (struct_mutex held); the last unregisters from a worker."""
        mn.count -= 1
        if mn.count == 0:
            del self.mmu_notifiers[id(mn.mm)]
            self.queue_work(lambda: mmu_notifier_unregister(mn.sub, mn.mm))

    def release(self, obj: GemObject) -> None:
        """``i915_gem_userptr_release`` (struct_mutex held: the object is being freed): out
        of the tree, then ``mmput``, which may be the address space's last user and run
        exit_mmap right here, under struct_mutex (fixed by ad46cb533d)."""
        super().release(obj)
        st = era_state(obj)
        mo, st.mmu_object = st.mmu_object, None
        mn = self.mmu_notifiers.get(id(st.mm)) if mo is not None else None
        if mo is not None and mn is not None:
            with mn.lock:
                mn.objects.remove(mo)
                mo.attached = False
                mn.serial += 1
            self._notifier_put(mn)
        if st.mm_users:
            st.mm_users = False
            st.mm.mmput()

    # -- pages -----------------------------------------------------------------------------
    def put_pages(self, obj: GemObject, pages: SgTable) -> None:
        """Release one page per scatterlist entry: a coalesced entry's other pages keep
        their references (the leak c479f4383e fixed)."""
        self.set_active(obj, False)
        self._release_pages(obj, [seg.pfn for seg in pages.segments])

    # -- the notifier ----------------------------------------------------------------------
    def invalidate(self, mn: MmuNotifier316, rng: NotifierRange) -> None:
        start, end = rng.start, rng.end - 1     # the tree is inclusive, the range is not
        it: MmuObject | None = None
        serial = 0
        while start < end:
            obj: GemObject | None = None
            with mn.lock:
                if serial == mn.serial:
                    it = mn.objects.iter_next(it, start, end)
                else:
                    it = mn.objects.iter_first(start, end)
                if it is not None:
                    obj = it.obj
                    # kref_get: taken even on an object whose last reference is gone.
                    owned = obj.kref.get_unless_zero()
                    serial = mn.serial
            if obj is None:
                return
            with self.struct_mutex:
                emit_invalidate(obj.id, rng)
                self.cancel_locked(obj)
                start = era_state(obj).ptr + obj.size
                if owned:
                    obj.put()


class UserptrV16(V3_16):
    """v3.16 with the overlap check of v16 of the patch: an object kept in the tree only by
    its get_pages worker's reference (its handle closed) makes a fresh userptr over the same
    range EINVAL (v17: "close a race between get_pages_worker/invalidate_range and fresh
    allocations of the same userptr range": EAGAIN until the worker lets go)."""

    name = "userptr-v16"
    overlap_eagain = False


register("v3.16", V3_16)
register("userptr-v16", UserptrV16)
