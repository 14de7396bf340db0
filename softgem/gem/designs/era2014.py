"""What the 2014-2015 userptr designs (``v3.16``, ``v4.4``) share: the device-wide
``struct_mutex``, the per-mm ``i915_mmu_notifier`` (a whole-mm notifier with its spinlock and
its tree of objects), the get_pages path (fast gup, else a worker and EAGAIN) and the creation
ladder of ``i915_gem_userptr_ioctl`` of that era.

Each object keeps an :class:`EraState`; its fields are changed under the object lock (the
kernel: under ``struct_mutex``; here execbuf's locked phase asks for pages under the object
lock only, so the object lock is what serialises them).  Lock order: ``mm.mmap_lock`` ->
``i915.struct_mutex`` -> ``gem.object`` -> the notifier spinlock.

The era's modules override the notifier walk (:meth:`Era2014.invalidate`), object release and
the ladder's era checks; docs/history-2014.md says what is and is not modelled.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ... import trace
from ...abi import I915_USERPTR_READ_ONLY, I915_USERPTR_UNSYNCHRONIZED
from ...errors import (
    E2BIG,
    EAGAIN,
    EFAULT,
    EINTR,
    EINVAL,
    ENODEV,
    EPERM,
    KernelError,
)
from ...mm import get_user_pages_fast_only, pin_user_pages, unpin_user_pages
from ...sync import Mutex, Workqueue, task
from ...units import PAGE_SHIFT, PAGE_SIZE, Pfn, is_page_aligned
from .. import userptr as up
from ..object import GemObject
from ..ops import ObjectFlags
from ..pages import SgTable
from .dma_2014 import DmaApiDebug
from .mmu_2014 import MmuObject, ObjectTree, WholeMmOps, emit_invalidate
from .state_2014 import EraState, era_state

if TYPE_CHECKING:
    from ...mm import NotifierRange
    from ..device import GemDevice
    from ..file import DrmFile

__all__ = ["Era2014", "EraOps", "EraState", "MmuObject", "ObjectTree", "WholeMmOps",
           "emit_invalidate", "era_state"]

MAX_WORKERS = 15            # I915_GEM_USERPTR_MAX_WORKERS
_DOMAIN_CPU = 0x1
_ERA_FLAGS = I915_USERPTR_READ_ONLY | I915_USERPTR_UNSYNCHRONIZED


class EraOps(up.UserptrOps):
    """``i915_gem_userptr_ops`` of the era: every step goes to the design.  A GTT mmap of a
    userptr was allowed then (no NO_MMAP; no struct pages to map otherwise)."""

    flags = ObjectFlags.IS_SHRINKABLE | ObjectFlags.IS_PROXY

    def __init__(self, design: Era2014) -> None:
        self.design = design

    def get_pages(self, obj: GemObject) -> SgTable:
        pages: SgTable = self.design.get_pages(obj)
        return pages

    def put_pages(self, obj: GemObject, pages: SgTable) -> None:
        self.design.put_pages(obj, pages)

    def release(self, obj: GemObject) -> None:
        self.design.release(obj)


class Era2014(DmaApiDebug):
    """The parts of v3.16 and v4.4 that did not change between them."""

    name = "era2014"
    user_size_limited = False       # user_size > the GGTT refused (E2BIG) before c6d576cc57
    update_only_current_worker = True   # 68d6c84059

    def __init__(self) -> None:
        self.ops = EraOps(self)
        self.struct_mutex = Mutex("i915.struct_mutex")
        self._wq: Workqueue | None = None

    # -- workers ---------------------------------------------------------------------------
    def queue_work(self, fn: Any) -> Any:
        """``schedule_work`` on the system workqueue (one per device here, started lazily)."""
        if self._wq is None:
            self._wq = Workqueue("i915-userptr", workers=2)
        return self._wq.queue(fn)

    def flush_workers(self) -> None:
        """``flush_work`` of everything queued so far, and of what that queued in turn."""
        for _ in range(3):
            if self._wq is not None:
                self._wq.flush()

    def finish(self) -> None:
        """Run what the workers still have queued and stop them (device teardown)."""
        if self._wq is not None:
            wq, self._wq = self._wq, None
            wq.destroy()

    @contextmanager
    def device_lock(self) -> Iterator[None]:
        """``struct_mutex``, as SET_TILING took it (i915_gem_set_tiling)."""
        with self.struct_mutex:
            yield

    def mutex_lock_interruptible(self, dev: GemDevice) -> None:
        """``i915_mutex_lock_interruptible``: a free struct_mutex is taken at once; while it
        is contended, a pending signal (the fault point ``userptr.signal_pending``) ends the
        wait with EINTR (mutex_lock_interruptible's slow path)."""
        while not self.struct_mutex.trylock():
            if dev.faults.hit("userptr.signal_pending"):
                raise EINTR("interrupted waiting for struct_mutex")
            task.sleep("mutex_lock_interruptible", 1e-5)

    @contextmanager
    def object_free_lock(self, obj: GemObject) -> Iterator[None]:
        """A userptr is freed under ``struct_mutex`` (``i915_gem_free_object``); a free from
        a path that holds it already (a worker's or the callback's last put) nests."""
        if not self.is_userptr(obj) or self.struct_mutex.held_by_me():
            yield
            return
        with self.struct_mutex:
            yield

    # -- creation --------------------------------------------------------------------------
    def check_create_args(self, dev: GemDevice, mm: Any, user_ptr: int, user_size: int,
                          flags: int) -> None:
        """``i915_gem_userptr_ioctl``'s checks of the era, in order (no size-0 check: an
        empty object is created; no PROBE flag yet)."""
        if flags & ~_ERA_FLAGS:
            raise EINVAL(f"unknown flags {flags:#x}")
        if not is_page_aligned(user_ptr | user_size):
            raise EINVAL("pointer or size not page aligned")
        if self.user_size_limited and user_size > dev.platform.ggtt_size:
            raise E2BIG(f"user_size {user_size:#x} exceeds the GTT")
        if not mm.access_ok(user_ptr, user_size):
            raise EFAULT("range outside the user address space")
        if flags & I915_USERPTR_READ_ONLY:
            raise ENODEV("read-only userptr: no read-only PTEs in this era")

    def userptr_create(self, dev: GemDevice, file: DrmFile, mm: Any, user_ptr: int,
                       user_size: int, flags: int) -> int:
        self.check_create_args(dev, mm, user_ptr, user_size, flags)
        obj = GemObject(dev, user_size, self.ops)
        obj.read_domains = obj.write_domain = _DOMAIN_CPU
        obj.private = EraState(user_ptr, mm)
        try:
            if flags & I915_USERPTR_UNSYNCHRONIZED:
                if not getattr(mm, "cap_sys_admin", False):
                    raise EPERM("unsynchronized userptr needs CAP_SYS_ADMIN")
            else:
                self.init_mmu_notifier(obj, mm)
            handle = file.handle_create(obj)
        finally:
            obj.put()
        if trace.enabled:
            trace.emit("userptr", "create", obj=obj.id, handle=handle, ptr=user_ptr,
                       size=user_size, flags=flags)
        return handle

    @abstractmethod
    def init_mmu_notifier(self, obj: GemObject, mm: Any) -> None: ...

    # -- pages -----------------------------------------------------------------------------
    def is_userptr(self, obj: GemObject) -> bool:
        return isinstance(obj.ops, EraOps)

    def set_active(self, obj: GemObject, value: bool) -> None:
        """v4.4's ``__i915_gem_userptr_set_active`` (v3.16: nothing)."""

    def get_pages(self, obj: GemObject) -> SgTable:
        """``i915_gem_userptr_get_pages`` (object lock held): the worker's pages, else the
        fast gup of the caller's own address space, else queue the worker: EAGAIN."""
        st = era_state(obj)
        npages = obj.size >> PAGE_SHIFT
        if st.ready is not None:
            pvec, st.ready = st.ready, None
            return self._set_pages(obj, pvec)
        if isinstance(st.work, KernelError):
            err, st.work = st.work, None
            raise err
        if st.work is not None:
            raise EAGAIN("a get_pages worker is still running")
        self.set_active(obj, True)
        pvec = get_user_pages_fast_only(st.mm, st.ptr, npages, not obj.readonly) \
            if st.caller_mm is st.mm else []
        if len(pvec) == npages:
            if trace.enabled:
                trace.emit("userptr", "gup", obj=obj.id, path="fast", npages=npages)
            return self._set_pages(obj, pvec)
        unpin_user_pages(obj.dev.phys, pvec, dirty=False)
        if st.workers >= MAX_WORKERS:
            self.set_active(obj, False)
            raise EAGAIN("too many get_pages workers")
        token = object()
        st.work, st.workers = token, st.workers + 1
        obj.get()                               # the worker's reference
        self.queue_work(lambda: self.get_pages_worker(obj, token))
        if trace.enabled:
            trace.emit("userptr", "worker", obj=obj.id)
        st.queued = True
        raise EAGAIN("user pages are being pinned by a worker")

    def _set_pages(self, obj: GemObject, pvec: list[Pfn]) -> SgTable:
        """The page list; since e227330223 its DMA mapping is made here, once."""
        if not self.dma_map_per_bind:
            self.dma_map(obj)
        return SgTable(pvec, obj.dev.platform.max_segment)

    def get_pages_worker(self, obj: GemObject, token: object) -> None:
        """``__i915_gem_userptr_get_pages_worker``: gup with mmap_lock, no driver lock held,
        then publish the pages under struct_mutex if this worker is still the one asked."""
        st = era_state(obj)
        npages = obj.size >> PAGE_SHIFT
        phys = obj.dev.phys
        pvec: list[Pfn] = []
        err: KernelError | None = None
        try:
            while len(pvec) < npages:
                got = pin_user_pages(st.mm, st.ptr + len(pvec) * PAGE_SIZE,
                                     npages - len(pvec), not obj.readonly)
                if not got:
                    raise EFAULT("get_user_pages made no progress")
                pvec.extend(got)
        except KernelError as e:
            err = e
        if trace.enabled and err is None:
            trace.emit("userptr", "gup", obj=obj.id, path="worker", npages=npages)
        with self.struct_mutex:
            with obj.lock:
                current = st.work is token
                if current and err is None:
                    st.ready, pvec = pvec, []
                if current or not self.update_only_current_worker:
                    st.work = err
                    if err is not None:
                        self.set_active(obj, False)
                st.workers -= 1
            obj.put()                   # may free it (struct_mutex held: the free nests)
        unpin_user_pages(phys, pvec, dirty=False)

    def put_pages(self, obj: GemObject, pages: SgTable) -> None:
        """``i915_gem_userptr_put_pages``: unmap (since e227330223), mark and release every
        page (v4.4)."""
        self.set_active(obj, False)
        if not self.dma_map_per_bind:
            self.dma_unmap(obj)
        self._release_pages(obj, list(pages))

    def _release_pages(self, obj: GemObject, pfns: Sequence[Pfn]) -> None:
        phys = obj.dev.phys
        dirty = obj.dirty and not obj.readonly
        for pfn in pfns:
            if dirty:
                phys.set_dirty(pfn)
            phys.set_accessed(pfn)
        obj.dirty = False
        unpin_user_pages(phys, pfns, dirty=False)

    def release(self, obj: GemObject) -> None:
        st = era_state(obj)
        self.dma_debug_release(obj)
        if st.ready is not None:
            pvec, st.ready = st.ready, None
            unpin_user_pages(obj.dev.phys, pvec, dirty=False)

    def cancel_locked(self, obj: GemObject) -> None:
        """Cancel the worker, unbind (waiting for the GPU) and put the pages: the v3.16
        callback's body and v4.4's ``cancel_userptr`` (struct_mutex held)."""
        st = era_state(obj)
        with obj.lock:
            st.work = None
            if st.ready is not None:
                pvec, st.ready = st.ready, None
                unpin_user_pages(obj.dev.phys, pvec, dirty=False)
            if obj.pages is not None:
                obj.unbind(wait=True)
                obj.put_pages_locked()

    # -- submission ------------------------------------------------------------------------
    def submit_init(self, obj: GemObject, mm: Any) -> None:
        """Execbuf's object lookup: get the pages under struct_mutex (EAGAIN while a worker
        runs: the caller returns to userspace, which restarts the ioctl)."""
        st = era_state(obj)
        with self.struct_mutex, obj.lock:
            st.caller_mm = mm
            try:
                obj.get_pages_locked()
                return
            except EAGAIN as e:
                backoff, err = not st.queued, e
                st.queued = False
            finally:
                st.caller_mm = None
        if backoff:
            # Still waiting for a worker: back off before the restart (without it, a
            # restart loop of a high-priority task would starve the worker under PCT).
            task.sleep("userptr.eagain", 1e-6)
        raise err

    def submit_done(self, obj: GemObject) -> None:
        """No sequence to check in this era: pages stay until the notifier cancels them."""

    def submit_done_all(self, objs: Sequence[GemObject]) -> None:
        """Nothing to recheck in this era."""

    def validate(self, obj: GemObject, mm: Any) -> None:
        """SET_DOMAIN of the era gets no pages (it waits for rendering and moves the
        domain): no probe of the userptr's range, so no EFAULT from it."""

    # -- the notifier ----------------------------------------------------------------------
    @abstractmethod
    def invalidate(self, mn: Any, rng: NotifierRange) -> None: ...

    def __repr__(self) -> str:
        return f"<userptr design {self.name}>"


