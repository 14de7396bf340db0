"""userptr: a GEM object that is a live view of the creating process's own memory.

The design is upstream i915 after the 2021 rework, with the v6.8 never-blocking notifier:

* creation checks the arguments (:func:`userptr_create`, a flat ladder, first failure wins),
  inserts one interval notifier over ``[ptr, ptr + size)`` of the creator's address space and
  touches no page;
* :func:`submit_init` (execbuf, set_domain) pins the pages *without driver locks*, then under
  the object lock checks the notifier sequence: a collision means EAGAIN and the caller retries;
* the notifier callback only records the new sequence.  It takes no lock and never waits, even
  for GPU work in flight: the pages stay pinned, so that work stays safe, and the next
  :func:`submit_init` sees the changed sequence and revalidates (unbind, unpin, pin again).

Per-object state and who may change it:

==============  ============================================  =============================
field           meaning                                       written under
==============  ============================================  =============================
notifier_seq    the notifier sequence ``pvec`` was pinned at;  object lock
                ``ULONG_MAX`` ("never valid") at creation
pvec            the pinned page vector, or None                object lock
page_ref        holders of ``pvec`` (the object's page list,   object lock
                submit_init while it installs); the vector
                is unpinned when it drops to 0
==============  ============================================  =============================

The race the sequence closes (invalidation between the pin and the install)::

    submit_init (thread A)                  munmap (thread B)
    ---------------------------------       -----------------------------------
    seq = read_begin(notifier)  # even
    pin_user_pages(...)  # old pages
                                            invalidate_range_start
                                              invalidate(): set_seq(odd)
                                            zap ptes, free the VMA
    lock object
    read_retry(notifier, seq) -> True       invalidate_range_end
    unpin, return EAGAIN                    # A never installs stale pages

The other eras of this path (v5.13, v5.14, and the explorer's planted-bug copies) live in
:mod:`softgem.gem.designs`, one module each, behind one typed seam: a device holds its
``userptr_design`` (a :class:`~softgem.gem.designs.UserptrDesign`, default v6.8), each design
owns its backing ops (so an object knows its design: ``obj.ops.design``), and the functions
below only dispatch.  This module keeps what every design shares: the per-object state, the
backing ops, the creation ladder, the pin loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import trace
from ..abi import I915_USERPTR_PROBE, I915_USERPTR_READ_ONLY, I915_USERPTR_UNSYNCHRONIZED
from ..errors import E2BIG, EAGAIN, EBUSY, EFAULT, EINVAL, ENODEV, ENOMEM, SimBug
from ..mm import pin_user_pages, probe_range, unpin_user_pages
from ..notifier import (
    MmuIntervalNotifier,
    mmu_interval_notifier_insert,
    mmu_interval_notifier_remove,
    mmu_interval_set_seq,
)
from ..units import PAGE_SHIFT, PAGE_SIZE, Pfn, is_page_aligned
from .object import GemObject
from .ops import ObjectFlags
from .pages import SgTable

if TYPE_CHECKING:
    from ..mm import NotifierRange, UserMm
    from .device import GemDevice
    from .file import DrmFile

__all__ = [
    "I915_USERPTR_READ_ONLY",
    "I915_USERPTR_PROBE",
    "I915_USERPTR_UNSYNCHRONIZED",
    "USERPTR_OPS",
    "UserptrOps",
    "UserptrState",
    "check_create_args",
    "new_userptr",
    "is_userptr",
    "submit_done",
    "submit_init",
    "userptr_create",
    "validate",
]

_KNOWN_FLAGS = I915_USERPTR_READ_ONLY | I915_USERPTR_PROBE | I915_USERPTR_UNSYNCHRONIZED

ULONG_MAX = (1 << 64) - 1
_U32_MAX = (1 << 32) - 1
_KVMALLOC_MAX = (1 << 31) - 1         # kvmalloc refuses more than INT_MAX bytes
_DOMAIN_CPU = 0x1


class UserptrState:
    """What a userptr object keeps beside the common object fields."""

    __slots__ = ("mm", "notifier", "notifier_seq", "page_ref", "ptr", "pvec")

    def __init__(self, ptr: int, mm: UserMm) -> None:
        self.ptr = ptr
        self.mm = mm
        self.notifier = MmuIntervalNotifier()
        self.notifier_seq = ULONG_MAX
        self.pvec: list[Pfn] | None = None
        self.page_ref = 0


def _state(obj: GemObject) -> UserptrState:
    st = obj.private
    if not isinstance(st, UserptrState):
        raise SimBug(f"{obj!r} is not a userptr")
    return st


def is_userptr(obj: GemObject) -> bool:
    """The object is asked what it is: its backing ops are userptr ops (of any design)."""
    return isinstance(obj.ops, UserptrOps)


def _design(obj: GemObject) -> Any:
    ops = obj.ops
    if not isinstance(ops, UserptrOps):
        raise SimBug(f"{obj!r} is not a userptr")
    return ops.design


class UserptrNotifierOps:
    """The interval notifier callback (v6.8+): record the sequence, nothing else."""

    __slots__ = ("obj_id",)

    def __init__(self, obj_id: int) -> None:
        self.obj_id = obj_id

    def invalidate(self, sub: MmuIntervalNotifier, rng: NotifierRange, cur_seq: int) -> bool:
        mmu_interval_set_seq(sub, cur_seq)
        if trace.enabled:
            trace.emit("userptr", "invalidate", obj=self.obj_id, start=rng.start, end=rng.end,
                       event=rng.event.name, seq=cur_seq)
        return True


class UserptrOps:
    """The userptr backing ops (``i915_gem_userptr_ops``); ``design`` is the design that
    created the object (set by :class:`~softgem.gem.designs.v6_8.V6_8` and its heirs)."""

    name = "userptr"
    flags = ObjectFlags.IS_SHRINKABLE | ObjectFlags.NO_MMAP | ObjectFlags.IS_PROXY
    design: Any = None

    def get_pages(self, obj: GemObject) -> SgTable:
        """Build the page list from the vector submit_init installed (EAGAIN if none)."""
        st = _state(obj)
        npages = obj.size >> PAGE_SHIFT
        if npages > _U32_MAX:
            raise E2BIG(f"{npages} pages do not fit the scatterlist's 32-bit count")
        if not st.page_ref or st.pvec is None:
            raise EAGAIN("userptr pages not validated: submit_init first")
        st.page_ref += 1
        max_segment = obj.dev.platform.max_segment
        if obj.dev.faults.hit("userptr.dma_map"):
            # The DMA mapping of big segments failed: retry once with page-sized segments.
            if obj.dev.faults.hit("userptr.dma_map"):
                _drop_ref(obj, st)
                raise EFAULT("dma mapping of userptr pages failed")
            max_segment = PAGE_SIZE
        return SgTable(st.pvec, max_segment)

    def put_pages(self, obj: GemObject, pages: SgTable) -> None:
        st = _state(obj)
        if obj.readonly:
            obj.dirty = False  # a read-only binding never wrote
        phys = obj.dev.phys
        for pfn in pages:
            if obj.dirty:
                phys.set_dirty(pfn)
            phys.set_accessed(pfn)
        obj.dirty = False
        _drop_ref(obj, st)

    def release(self, obj: GemObject) -> None:
        st = _state(obj)
        if st.page_ref:
            raise SimBug(f"{obj!r} released with page_ref {st.page_ref}")
        if st.notifier.mm is not None:
            mmu_interval_notifier_remove(st.notifier)

    def pread(self, obj: GemObject) -> None:
        raise EINVAL("pread from userptr no longer allowed")

    def pwrite(self, obj: GemObject) -> None:
        raise EINVAL("pwrite to userptr no longer allowed")

    def dmabuf_export(self, obj: GemObject) -> None:
        raise EINVAL("exporting userptr no longer allowed")


USERPTR_OPS = UserptrOps()


def _drop_ref(obj: GemObject, st: UserptrState) -> None:
    st.page_ref -= 1
    if st.page_ref < 0:
        raise SimBug(f"{obj!r}: userptr page_ref underflow")
    if st.page_ref == 0 and st.pvec is not None:
        pvec, st.pvec = st.pvec, None
        unpin_user_pages(obj.dev.phys, pvec, dirty=False)
        if trace.enabled:
            trace.emit("userptr", "unpin", obj=obj.id, npages=len(pvec))


# -- creation ------------------------------------------------------------------------------------
def check_create_args(dev: GemDevice, mm: UserMm, user_ptr: int, user_size: int,
                      flags: int) -> None:
    """GEM_USERPTR's checks (semantics.md section 1), in order: the first failure wins."""
    plat = dev.platform
    if not plat.has_llc and not plat.has_snoop:
        raise ENODEV("no coherent userptr without LLC or snooping")
    if flags & ~_KNOWN_FLAGS:
        raise EINVAL(f"unknown flags {flags:#x}")
    if user_size > ULONG_MAX:  # the object size type is 64-bit: never on this platform
        raise E2BIG("size overflows the object size")
    if not user_size:
        raise EINVAL("size 0")
    if not is_page_aligned(user_ptr | user_size):
        raise EINVAL("pointer or size not page aligned")
    if not mm.access_ok(user_ptr, user_size):
        raise EFAULT("range outside the user address space")
    if flags & I915_USERPTR_UNSYNCHRONIZED:
        raise ENODEV("unsynchronized userptr is not supported")
    if flags & I915_USERPTR_READ_ONLY and not plat.has_read_only_ptes:
        raise ENODEV("no read-only PTEs on this address space")
    if flags & I915_USERPTR_PROBE:
        probe_range(mm, user_ptr, user_size)


def new_userptr(dev: GemDevice, file: DrmFile, mm: UserMm, user_ptr: int, user_size: int,
                flags: int, ops: UserptrOps,
                notifier_ops: Callable[[GemObject], Any]) -> int:
    """The object, its interval notifier (callback ``notifier_ops(obj)``) and its handle."""
    obj = GemObject(dev, user_size, ops)
    obj.read_domains = obj.write_domain = _DOMAIN_CPU
    obj.readonly = bool(flags & I915_USERPTR_READ_ONLY)
    st = obj.private = UserptrState(user_ptr, mm)
    try:
        mmu_interval_notifier_insert(st.notifier, mm, user_ptr, user_size, notifier_ops(obj))
        handle = file.handle_create(obj)
    finally:
        obj.put()  # the handle holds the object now (or nothing does and it is freed)
    if trace.enabled:
        trace.emit("userptr", "create", obj=obj.id, handle=handle, ptr=user_ptr,
                   size=user_size, flags=flags)
    return handle


def userptr_create(dev: GemDevice, file: DrmFile, mm: UserMm, user_ptr: int, user_size: int,
                   flags: int) -> int:
    """GEM_USERPTR through the device's design; returns the new handle."""
    handle: int = dev.userptr_design.userptr_create(dev, file, mm, user_ptr, user_size, flags)
    return handle


# -- validation and submission ---------------------------------------------------------------------
def _unbind_and_put(obj: GemObject) -> None:
    """Drop the stale page list before re-pinning (``i915_gem_object_userptr_unbind``)."""
    obj.unbind(wait=True)
    if obj.pages_pin_count:
        raise EBUSY(f"{obj!r}: pages still pinned by a binding")
    obj.put_pages_locked()


def _pin_all(obj: GemObject, st: UserptrState) -> list[Pfn]:
    """Pin every page of the range, continuing after partial pins; unpin all on failure.
    ENOMEM first, pinning nothing, when the vector of page pointers is more than
    ``kvmalloc_array(npages, 8)`` gives (2^28 pages, 1 TiB, and more), as submit_init."""
    npages = obj.size >> PAGE_SHIFT
    if npages * 8 > _KVMALLOC_MAX:
        raise ENOMEM(f"a page vector of {npages} pages does not fit kvmalloc")
    write = not obj.readonly
    pvec: list[Pfn] = []
    try:
        while len(pvec) < npages:
            got = pin_user_pages(st.mm, st.ptr + len(pvec) * PAGE_SIZE, npages - len(pvec),
                                 write)
            if not got:
                raise EFAULT("pin_user_pages made no progress")
            pvec.extend(got)
    except BaseException:
        unpin_user_pages(obj.dev.phys, pvec, dirty=False)
        raise
    return pvec


def submit_init(obj: GemObject, mm: Any) -> None:
    """Make sure ``obj`` holds pages pinned at the current notifier sequence (its design's
    ``submit_init``: EFAULT for a foreign address space or an unpinnable page, EAGAIN when
    an invalidation ran while pinning)."""
    _design(obj).submit_init(obj, mm)


def submit_done(obj: GemObject) -> None:
    """After the request is built: EAGAIN if an invalidation hit the pinned sequence."""
    _design(obj).submit_done(obj)


def validate(obj: GemObject, mm: Any) -> None:
    """SET_DOMAIN's validity probe: submit_init, then pin and unpin the pages."""
    _design(obj).validate(obj, mm)
