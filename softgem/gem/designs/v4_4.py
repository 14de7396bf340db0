"""v4.4: the 2014 userptr after the fixes of 2014-2015 (seed 000).

* ad46cb533d: a per-mm ``i915_mm_struct`` (device hash under ``mm_lock``, a kref from its
  objects, a reference on the address space itself rather than on its users); the last put
  unlinks it under ``mm_lock`` and a worker unregisters the notifier (never under
  ``struct_mutex``);
* e9681366ea: a failed notifier registration is not stored in the ``i915_mm_struct``;
* ec8b0dd51c: overlapping objects are allowed: the first overlap switches the notifier to
  its linear list (``has_linear``), walked whole on every invalidation;
* 281400ff0f: the object is added under an uninterruptible ``struct_mutex``;
* 460822b0b1: the callback takes a reference only if the object is not being freed
  (``kref_get_unless_zero``);
* e4b946bfe1 and 380996aab5: the callback holds the spinlock for the whole walk and takes
  no other lock: for an object with pages (``active``) it queues its ``cancel_userptr``
  work (once), which later takes ``struct_mutex``, unbinds (waiting for the GPU) and puts
  the pages.  get_pages returns EAGAIN while that work is pending.  Until the worker runs,
  the GPU may still use the old pages (they stay referenced, so not freed);
* c479f4383e: put_pages releases every page, not one per scatterlist entry;
* c6d576cc57: no user_size limit;
* 68d6c84059: a superseded get_pages worker leaves the current one's pointer alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import EAGAIN, EINTR, KernelError, SimBug
from ...notifier import MmuNotifier, mmu_notifier_register_locked, mmu_notifier_unregister
from ...sync import Kref, Mutex, SpinLock, task
from . import register
from .era2014 import Era2014, MmuObject, ObjectTree, WholeMmOps, emit_invalidate, era_state

if TYPE_CHECKING:
    from ...mm import NotifierRange
    from ..object import GemObject

__all__ = ["V4_4", "V3_17rc", "MmuNotifier44", "I915MmStruct"]


class MmuNotifier44:
    """``struct i915_mmu_notifier`` of v4.4."""

    def __init__(self, design: V4_4, mm: Any) -> None:
        self.design = design
        self.lock = SpinLock("i915.mmu_notifier.lock")
        self.objects = ObjectTree()
        self.linear: list[MmuObject] = []
        self.has_linear = False
        self.sub = MmuNotifier(WholeMmOps(self))


class I915MmStruct:
    """``struct i915_mm_struct``: one per address space with userptrs on this device."""

    def __init__(self, mm: Any) -> None:
        self.mm = mm
        self.kref = Kref()
        self.mn: MmuNotifier44 | KernelError | None = None   # an error: see store_error
        self.dev: Any = None


class V4_4(Era2014):
    name = "v4.4"
    store_error = False             # e9681366ea

    def __init__(self) -> None:
        super().__init__()
        self.mm_lock = Mutex("i915.mm_lock")
        self.mm_structs: dict[int, I915MmStruct] = {}     # under mm_lock

    # -- creation --------------------------------------------------------------------------
    def faults_of(self, ms: I915MmStruct) -> Any:
        return ms.dev.faults

    def _mm_struct_get(self, dev: Any, mm: Any) -> I915MmStruct:
        with self.mm_lock:
            ms = self.mm_structs.get(id(mm))
            if ms is None:
                ms = self.mm_structs[id(mm)] = I915MmStruct(mm)
                ms.dev = dev
            else:
                ms.kref.get()
            return ms

    def _mm_struct_put(self, ms: I915MmStruct) -> None:
        with self.mm_lock:
            if not ms.kref.put():
                return
            del self.mm_structs[id(ms.mm)]
        mn = ms.mn
        if mn is not None:
            self.queue_work(lambda: self._mm_struct_free(ms, mn))

    def _mm_struct_free(self, ms: I915MmStruct, mn: MmuNotifier44 | KernelError) -> None:
        """``__i915_mm_struct_free__worker``: unregister the notifier (and drop the mm)."""
        if isinstance(mn, KernelError):
            raise SimBug(f"mmu_notifier_unregister of an error pointer ({mn!r}) stored in "
                         "the i915_mm_struct by a failed registration")
        mmu_notifier_unregister(mn.sub, ms.mm)

    def _notifier_find(self, ms: I915MmStruct) -> MmuNotifier44:
        """``i915_mmu_notifier_find``: create and register the mm's notifier once.  The
        registration fails with EINTR when a signal is pending (``mm_take_all_locks``; the
        fault point ``userptr.signal_pending``, armed by whoever sends the signal)."""
        if isinstance(ms.mn, KernelError):
            raise ms.mn                 # only with store_error: the poisoned struct
        if ms.mn is not None:
            return ms.mn
        with ms.mm.mmap_lock.write(), self.mm_lock:
            if ms.mn is None:
                mn = MmuNotifier44(self, ms.mm)
                try:
                    faults = self.faults_of(ms)
                    if faults.hit("userptr.signal_pending"):
                        raise EINTR("mm_take_all_locks: a signal is pending")
                    faults.run("userptr.mm_take_all_locks", ms.mm)
                    mmu_notifier_register_locked(mn.sub, ms.mm)
                except KernelError as err:
                    if self.store_error:
                        ms.mn = err     # the ERR_PTR kept in the i915_mm_struct
                    raise
                ms.mn = mn
            if isinstance(ms.mn, KernelError):
                raise ms.mn
            return ms.mn

    def init_mmu_notifier(self, obj: GemObject, mm: Any) -> None:
        st = era_state(obj)
        ms = self._mm_struct_get(obj.dev, mm)
        st.ms = ms
        mn = self._notifier_find(ms)
        mo = MmuObject(obj, st.ptr, st.ptr + obj.size - 1)
        busy = False
        with self.struct_mutex, mn.lock:
            other = mn.objects.iter_first(mo.start, mo.last)
            if other is None and mn.has_linear:
                other = next((o for o in mn.linear if o.overlaps(mo.start, mo.last)), None)
            if other is not None:
                if era_state(other.obj).workers:
                    busy = True
                else:
                    mn.has_linear = mo.is_linear = True
            if not busy:
                if not mo.is_linear:
                    mn.objects.insert(mo)
                mn.linear.append(mo)
                mo.attached = True
        if busy:
            task.sleep("userptr.eagain", 1e-6)    # back to userspace before the restart
            raise EAGAIN("overlapping userptr still has get_pages workers")
        st.mmu_object = mo

    def release(self, obj: GemObject) -> None:
        super().release(obj)
        st = era_state(obj)
        mo, st.mmu_object = st.mmu_object, None
        ms, st.ms = st.ms, None
        if mo is not None and ms is not None and isinstance(ms.mn, MmuNotifier44):
            mn = ms.mn
            with mn.lock:
                mn.linear.remove(mo)
                if mo.is_linear:
                    mn.has_linear = any(o.is_linear for o in mn.linear)
                else:
                    mn.objects.remove(mo)
                mo.attached = False
        if ms is not None:
            self._mm_struct_put(ms)

    # -- pages -----------------------------------------------------------------------------
    def set_active(self, obj: GemObject, value: bool) -> None:
        """``__i915_gem_userptr_set_active``: under the spinlock; EAGAIN while a cancel is
        pending (get_pages must wait for it, from userspace)."""
        mo = era_state(obj).mmu_object
        if mo is None:
            return
        mn = self._notifier_of(obj)
        with mn.lock:
            if value and mo.cancel is not None:
                raise EAGAIN("a cancel_userptr work is pending")
            mo.active = value

    def _notifier_of(self, obj: GemObject) -> MmuNotifier44:
        ms = era_state(obj).ms
        mn = ms.mn if isinstance(ms, I915MmStruct) else None
        if not isinstance(mn, MmuNotifier44):
            raise EAGAIN("userptr without a notifier")
        return mn

    # -- the notifier ----------------------------------------------------------------------
    def invalidate(self, mn: MmuNotifier44, rng: NotifierRange) -> None:
        start, last = rng.start, rng.end - 1
        with mn.lock:
            hits = [mo for mo in (mn.linear if mn.has_linear else mn.objects.nodes())
                    if mo.overlaps(start, last)]
            for mo in hits:
                emit_invalidate(mo.obj.id if mo.attached else 0, rng)
                if mo.active and mo.cancel is None and mo.obj.kref.get_unless_zero():
                    mo.cancel = self.queue_work(lambda mo=mo: self._cancel_userptr(mo))
                    mo.active = False

    def _cancel_userptr(self, mo: MmuObject) -> None:
        obj = mo.obj
        with self._notifier_of(obj).lock:
            mo.cancel = None            # work_pending() is false once the work runs
        with self.struct_mutex:
            self.cancel_locked(obj)
            obj.put()


class V3_17rc(V4_4):
    """The i915_mm_struct of ad46cb533d before e9681366ea (the v3.17 release candidates):
    a failed notifier registration is stored in the struct as its notifier, so later
    userptrs of that address space fail the same way and the struct's release worker
    unregisters the error pointer.  Modelled as v4.4 with that one fix reverted."""

    name = "v3.17-rc"
    store_error = True


register("v4.4", V4_4)
register("v3.17-rc", V3_17rc)
